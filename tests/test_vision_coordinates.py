"""smart_resize against published sizes; every coordinate convention round-trips near the corners
of 1920x1080 and 2560x1440 frames; model-family presets; bad input fails in one line."""

import pytest
from pydantic import ValidationError

from toolbox.vision import (
    ACTIONS,
    CONVENTIONS,
    FAMILIES,
    ModelFamily,
    VisionError,
    decode,
    encode,
    export_size,
    model_family,
    round_trip_ok,
    smart_resize,
)

QWEN25 = {"factor": 28, "min_pixels": 3136, "max_pixels": 12845056}  # Qwen2.5-VL-7B-Instruct preprocessor_config.json


@pytest.mark.parametrize(
    ("height", "width", "budget", "expected"),
    [
        # transformers tests/models/qwen2_vl/test_image_processing_qwen2_vl.py, test_select_best_resolution:
        # smart_resize(561, 278, factor=28) == (560, 280), with the image processor's default budget
        (561, 278, {}, (560, 280)),
        # the same file, test_call_pil: 1024x1024 images with max_pixels=28*28*1280 give image_grid_thw
        # [1, 70, 70] at patch size 14, i.e. 980x980 (over the budget: scaled down, floored to 28s)
        (1024, 1024, {"max_pixels": 28 * 28 * 1280}, (980, 980)),
        # QwenLM/Qwen2.5-VL cookbooks/mobile_agent.ipynb with the Qwen2.5-VL-7B processor: a 1080x2400
        # screenshot is announced as "The screen's resolution is 1092x2408" ...
        (2400, 1080, QWEN25, (2408, 1092)),
        # ... and a 720x1280 one as "The screen's resolution is 728x1288"
        (1280, 720, QWEN25, (1288, 728)),
    ],
)
def test_smart_resize_matches_published_sizes(height, width, budget, expected):
    assert smart_resize(height, width, **budget) == expected


@pytest.mark.parametrize(
    ("height", "width", "budget", "expected"),
    [
        # hand-computed: under min_pixels, 20x30 grows by sqrt(3136/600) and is ceiled to 28s
        (20, 30, {}, (56, 84)),
        # hand-computed, Qwen3-VL's factor 32: 1080 -> round(33.75)*32, 1920 -> 60*32
        (1080, 1920, {"factor": 32, "min_pixels": 65536, "max_pixels": 16777216}, (1088, 1920)),
    ],
)
def test_smart_resize_hand_computed(height, width, budget, expected):
    assert smart_resize(height, width, **budget) == expected


@pytest.mark.parametrize("family", ["qwen2.5-vl", "qwen3-vl", "ui-tars-1.5"])
@pytest.mark.parametrize("frame", [(1920, 1080), (2560, 1440), (3840, 2160), (1366, 768), (800, 600)])
def test_a_smart_resized_export_is_left_alone_by_the_models_processor(family, frame):
    """The smart_resize convention relies on this: the exported image is already at the size the
    model's processor resizes to, so the model sees the pixels the coordinates count."""
    width, height = export_size(frame, family)
    image = model_family(family).image
    assert smart_resize(height, width, image.factor, image.min_pixels, image.max_pixels) == (height, width)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: smart_resize(0, 1920), "positive"),
        (lambda: smart_resize(10, 2010), "aspect ratio 201.0"),
        (lambda: smart_resize(100, 100, min_pixels=10, max_pixels=5), "min_pixels <= max_pixels"),
        (lambda: encode((1, 1), "pixels", (0, 1080), (1280, 720)), "frame size"),
        (lambda: encode((1, 1), "pixels", (1920, 1080), (1280, -1)), "image size"),
        (lambda: encode((1921, 5), "pixels", (1920, 1080), (1280, 720)), "outside the 1920x1080 frame"),
        (
            lambda: encode((1, 1), "relative", (1920, 1080), (1280, 720)),
            "known: normalized, pixels, smart_resize, grid1000",
        ),
        (lambda: model_family("gpt-9"), "known: qwen2.5-vl, qwen3-vl, ui-tars-1.5, opencua, anthropic, openai"),
        (lambda: export_size((1920, 1080), "gpt-9"), "unknown coordinate convention or model family 'gpt-9'"),
        (lambda: export_size((1920, 1080), "opencua"), "image_max_side is needed"),
        (lambda: export_size((1920, 1080), "pixels", 0), "image_max_side must be"),
        (
            lambda: round_trip_ok((5, 5), (5, 5), "pixels", (10, 10), (10, 10), target_box=(6, 0, 4, 9)),
            "right or bottom",
        ),
    ],
)
def test_bad_input_fails_with_one_line(call, message):
    with pytest.raises(VisionError) as error:
        call()
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def _corners_and_centre(frame):
    width, height = frame
    return [
        (0, 0),
        (width - 1, 0),
        (0, height - 1),
        (width - 1, height - 1),
        (width / 2, height / 2),
        (3.5, height - 2.25),
    ]


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("frame", [(1920, 1080), (2560, 1440)])
def test_every_convention_round_trips_near_corners_and_centre(convention, frame):
    image = export_size(frame, convention, image_max_side=1280)
    for point in _corners_and_centre(frame):
        exported = encode(point, convention, frame, image)
        assert round_trip_ok(point, exported, convention, frame, image), (convention, frame, point, exported)
        # a 24x16 target box around the point is hit too
        box = (point[0] - 12, point[1] - 8, point[0] + 12, point[1] + 8)
        assert round_trip_ok(point, exported, convention, frame, image, target_box=box)


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("frame", [(1920, 1080), (2560, 1440)])
def test_every_family_round_trips_near_corners_and_centre(family, frame):
    preset = model_family(family)
    image = export_size(frame, preset, image_max_side=1280)
    for point in _corners_and_centre(frame):
        exported = encode(point, preset.coordinates, frame, image)
        assert round_trip_ok(point, exported, preset.coordinates, frame, image), (family, frame, point, exported)


@pytest.mark.parametrize(
    ("point", "convention", "frame", "image", "expected"),
    [
        # the OpenCUA example: pyautogui.click(x=0.7007, y=0.9438)
        ((1345.3, 1019.3), "normalized", (1920, 1080), (1280, 720), (0.7007, 0.9438)),
        ((960, 540), "pixels", (1920, 1080), (1280, 720), (640, 360)),
        ((1919, 1079), "pixels", (1920, 1080), (1280, 720), (1279, 719)),  # 1279.3, 719.3
        ((1920, 1080), "pixels", (1920, 1080), (1280, 720), (1279, 719)),  # the far edge: the last pixel
        ((960, 540), "pixels", (1920, 1080), (1366, 768), (683, 384)),  # anthropic's FWXGA: each axis its own ratio
        ((960, 540), "smart_resize", (1920, 1080), (1932, 1092), (966, 546)),  # Qwen2.5-VL's 1932x1092
        ((2000, 1000), "smart_resize", (2560, 1440), (2548, 1428), (1991, 992)),  # 1990.6, 991.7
        ((960, 540), "grid1000", (1920, 1080), (1920, 1088), (500, 500)),
        ((100, 100), "grid1000", (2560, 1440), (2560, 1440), (39, 69)),  # 39.06, 69.4
        ((1919, 1079), "grid1000", (1920, 1080), (1920, 1088), (999, 999)),
    ],
)
def test_encode_gives_hand_computed_numbers(point, convention, frame, image, expected):
    exported = encode(point, convention, frame, image)
    assert exported == expected
    assert all(isinstance(v, float if convention == "normalized" else int) for v in exported)


def test_decode_inverts_the_scaling():
    assert decode((0.7007, 0.9438), "normalized", (1920, 1080), (1280, 720)) == pytest.approx((1345.344, 1019.304))
    assert decode((966, 546), "smart_resize", (1920, 1080), (1932, 1092)) == pytest.approx((960, 540))
    assert decode((500, 250), "grid1000", (2560, 1440), (2560, 1440)) == pytest.approx((1280, 360))


def test_round_trip_catches_a_point_left_in_frame_pixels():
    """The bug users keep filing: the point is written in frame pixels, the image is resized."""
    frame, image = (1920, 1080), (1932, 1092)
    point = (1900, 1060)
    assert round_trip_ok(point, encode(point, "smart_resize", frame, image), "smart_resize", frame, image)
    assert not round_trip_ok(point, (1900, 1060), "smart_resize", frame, image)  # lands 12 px off
    # and one resized for a different image size misses its target box
    box = (1880, 1050, 1915, 1070)
    assert not round_trip_ok(point, encode(point, "pixels", frame, (1280, 720)), "pixels", frame, image, target_box=box)


def test_a_too_small_image_fails_the_round_trip_without_a_box():
    """At 512 px wide a 2560 px frame is 5 px per image pixel: some points cannot come back within 2 px."""
    frame, image = (2560, 1440), export_size((2560, 1440), "pixels", image_max_side=512)
    assert image == (512, 288)
    point = (1282.4, 700)  # 256.48 image px -> 256 -> back at 1280: 2.4 px off
    assert not round_trip_ok(point, encode(point, "pixels", frame, image), "pixels", frame, image)


@pytest.mark.parametrize(
    ("family", "coordinates", "size_1080p"),
    [
        ("qwen2.5-vl", "smart_resize", (1932, 1092)),
        ("qwen3-vl", "grid1000", (1920, 1088)),
        ("ui-tars-1.5", "smart_resize", (1932, 1092)),
        ("anthropic", "pixels", (1366, 768)),
        ("openai", "pixels", (1024, 576)),
    ],
)
def test_presets_resolve_with_their_coordinates_and_sizes(family, coordinates, size_1080p):
    preset = model_family(family)
    assert preset.name == family and preset.coordinates == coordinates
    assert export_size((1920, 1080), family) == size_1080p
    assert set(preset.actions) <= set(ACTIONS)
    assert preset.actions["click"]


def test_opencua_preset_writes_pyautogui_in_normalized_coordinates():
    preset = model_family("opencua")
    assert preset.coordinates == "normalized"
    assert preset.actions["double_click"] == "pyautogui.doubleClick"
    assert preset.actions["terminate"] == "computer.terminate"
    assert export_size((2560, 1440), preset, image_max_side=1280) == (1280, 720)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ((2560, 1600), (1280, 800)),  # 16:10 -> WXGA
        ((1600, 1200), (1024, 768)),  # 4:3 -> XGA
        ((1024, 768), (1024, 768)),  # already at XGA: kept
        ((800, 600), (800, 600)),  # smaller than XGA: never upscaled
        ((2560, 1080), (1280, 540)),  # 21:9 matches no standard size: fitted inside WXGA
    ],
)
def test_anthropic_screenshots_take_the_standard_size_of_their_aspect_ratio(frame, expected):
    assert export_size(frame, "anthropic") == expected


def test_image_max_side_caps_only_sizes_that_are_ours_to_choose():
    assert export_size((1920, 1080), "openai", image_max_side=800) == (800, 450)
    assert export_size((1920, 1080), "grid1000", image_max_side=4000) == (1920, 1080)  # never upscaled
    # the model's own resize fixes these coordinate spaces
    assert export_size((1920, 1080), "qwen2.5-vl", image_max_side=640) == (1932, 1092)
    assert export_size((1920, 1080), "smart_resize", image_max_side=640) == (1932, 1092)
    assert export_size((1920, 1080), "anthropic", image_max_side=640) == (1366, 768)


def test_a_family_with_an_unknown_action_is_refused():
    with pytest.raises(ValidationError, match="unknown actions"):
        ModelFamily(name="x", coordinates="pixels", image={"kind": "max_side", "max_side": 100}, actions={"fly": "fly"})
