"""Geography: IRIS, polling-station and commune contours, and IRIS -> bureau allocation weights.

Modules, one job each:
- `crs`: which coordinate reference system a file is in (declared, `.prj`, or `--crs`), and the
  metric CRS areas are computed in (Lambert-93 in metropolitan France, UTM per overseas region);
- `layouts`: the attribute layouts of the official contour files (IGN CONTOURS-IRIS, city bureau
  layers, data.gouv's bureau contours, commune contours) and the id normalisation;
- `contours`: read a contour file into normalised, repaired, WGS84 features (pure, no database);
- `loader`: COPY contours into `raw.geo_iris` / `raw.geo_bureaux` / `raw.geo_communes`;
- `allocation`: the weights engine (pure functions on arrays, vectorised shapely 2);
- `points`: read a CSV of weighted points (REU addresses) for the stand-alone CLI;
- `weights`: run the engine on the warehouse and replace `raw.iris_bureau_weights`;
- `manifest`: the landing folder's `manifest.yml` (which file is which kind).

Geopandas, shapely and pyproj are imported inside functions where a DAG file may import the
module; the modules that need them at top level are only imported from task bodies.
"""
