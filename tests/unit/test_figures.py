"""linkseval.report.figures: the palette stays distinguishable for colour-blind readers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from linkseval.report import figures

# Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB
CVD = {
    "protanopia": [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ],
    "deuteranopia": [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ],
    "tritanopia": [
        [1.255528, -0.076749, -0.178779],
        [-0.078411, 0.930809, 0.147602],
        [0.004733, 0.691367, 0.303900],
    ],
    "typical": np.eye(3).tolist(),
}


def _linear(hex_colour: str) -> np.ndarray:
    c = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(linear_rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of a linear sRGB colour."""
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    x = xyz @ np.clip(linear_rgb, 0, 1) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(x > 0.008856, np.cbrt(x), 7.787 * x + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_lab_of_known_colours():
    assert _lab(_linear("#ffffff")) == pytest.approx([100, 0, 0], abs=0.05)
    assert _lab(_linear("#000000")) == pytest.approx([0, 0, 0], abs=1e-9)
    assert _lab(_linear("#ff0000")) == pytest.approx([53.24, 80.09, 67.20], abs=0.1)


PALETTES = {
    # the groups' lines of the descriptive and practice figures, with black
    "groups": ("#000000", figures.LINKS_COLOR, figures.SCOT_COLOR, figures.DE_COLOR),
    # the inference methods of one event-study figure (four with RI-t on)
    "methods": figures.METHOD_COLORS,
}


@pytest.mark.parametrize("vision", sorted(CVD))
@pytest.mark.parametrize("palette", sorted(PALETTES))
def test_the_colours_shown_together_stay_apart_under_every_colour_vision(vision, palette):
    """The colours drawn on one figure: every pair at least 20 CIELAB units apart (a clearly
    visible difference) after simulating protanopia, deuteranopia and tritanopia. (The event
    study's fourth method used to be #767676 beside the Deep End grey #7f7f7f: 2 units.)"""
    colours = PALETTES[palette]
    assert len(set(colours)) == len(colours)
    m = np.array(CVD[vision])
    for a, b in itertools.combinations(colours, 2):
        dist = np.linalg.norm(_lab(m @ _linear(a)) - _lab(m @ _linear(b)))
        assert dist >= 20, (vision, a, b, round(float(dist), 1))
