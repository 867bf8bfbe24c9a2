"""Search areas over ../shared/data/stac shared by the parity tests of both APIs."""

JOPLIN_AOI = {
    "type": "Polygon",
    "coordinates": [[
        [-94.6884155, 37.0595608], [-94.6884155, 37.0332547], [-94.6554565, 37.0332547],
        [-94.6554565, 37.0595608], [-94.6884155, 37.0595608],
    ]],
}
# Two NAIP tiles' neighbourhoods in Alabama / Florida, as one MultiPolygon.
NAIP_AREAS = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[-87.9, 30.5], [-87.7, 30.5], [-87.7, 30.7], [-87.9, 30.7], [-87.9, 30.5]]],
        [[[-86.0, 30.8], [-85.8, 30.8], [-85.8, 31.0], [-86.0, 31.0], [-86.0, 30.8]]],
    ],
}
