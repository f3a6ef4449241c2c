import pytest

from plate_ocr_pipeline.core.plate_config import PlateConfig, PlateConfigError


def test_good_config_loads(plate_params):
    config = PlateConfig.from_dict(plate_params)
    assert config.vocabulary_size == 37
    assert config.num_channels == 1
    assert config.pad_index == 36
    assert config.characters == "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    assert PlateConfig.from_dict(config.to_dict()) == config


def test_input_shape_follows_size_and_colour(plate_params):
    wide_rgb = {**plate_params, "img_width": 160, "color_mode": "rgb"}
    assert PlateConfig.from_dict(plate_params).input_shape == (64, 128, 1)
    assert PlateConfig.from_dict(wide_rgb).input_shape == (64, 160, 3)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max_plate_slots", 0, "between 1"),
        ("max_plate_slots", "7", "integer"),
        ("img_height", -3, "between 1"),
        ("img_width", True, "integer"),
        ("alphabet", "AAB_", "repeated"),
        ("pad_char", "#", "not in the alphabet"),
        ("pad_char", "__", "exactly one"),
        ("color_mode", "bgr", "grayscale"),
        ("keep_aspect_ratio", "yes", "true or false"),
        ("padding_color", [1, 2], "three"),
        ("interpolation", "bilinear", "linear"),
    ],
)
def test_bad_value_names_the_key(plate_params, key, value, message):
    plate_params[key] = value
    with pytest.raises(PlateConfigError, match=message) as error:
        PlateConfig.from_dict(plate_params)
    assert error.value.key == key
    assert f"'{key}'" in str(error.value)


def test_typo_and_missing_key_are_named(plate_params):
    plate_params["img_heigth"] = plate_params.pop("img_height")
    with pytest.raises(PlateConfigError, match="img_heigth"):
        PlateConfig.from_dict(plate_params)
    del plate_params["img_heigth"]
    with pytest.raises(PlateConfigError, match="img_height.*missing"):
        PlateConfig.from_dict(plate_params)


def test_from_yaml_accepts_plate_section(tmp_path, plate_params):
    import yaml

    path = tmp_path / "plate.yml"
    path.write_text(yaml.safe_dump({"plate": plate_params}))
    assert PlateConfig.from_yaml(path) == PlateConfig.from_dict(plate_params)
