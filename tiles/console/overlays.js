// The map's overlays: GeoJSON sources the screens draw into, each with its layers, above the base
// map in a fixed order. A source and its layers are added the first time a screen draws into it
// (setOverlay), not when the console opens: an empty source still costs the map's single worker a
// message and the first view a later 'load' and more frames, and in software WebGL (no GPU) a
// frame costs a tenth of a second or more.

const coverageColours = ['match', ['get', 'kind'], 'gap', '#e03131', 'overlap', '#f08c00', '#7048e8'];

// Bottom to top.
const specs = [
  // A preview's changed areas (or a version to restore, a plan to apply).
  { source: 'preview', layers: [
    { id: 'preview-fill', type: 'fill', paint: { 'fill-color': ['case', ['==', ['get', 'piece'], 1], '#4dabf7', '#f59f00'], 'fill-opacity': 0.35 } },
    { id: 'preview-line', type: 'line', paint: { 'line-color': '#e8590c', 'line-width': 2.5 } }] },
  // The selected area (or a worker's grids).
  { source: 'selection', layers: [{ id: 'selection-line', type: 'line', paint: { 'line-color': '#1c7ed6', 'line-width': 3 } }] },
  { source: 'routes', layers: [{ id: 'routes-line', type: 'line', paint: { 'line-color': '#7048e8', 'line-width': 4, 'line-opacity': 0.8 } }] },
  { source: 'workers', layers: [{ id: 'workers-dot', type: 'circle',
    paint: { 'circle-radius': 6, 'circle-color': ['case', ['get', 'stale'], '#adb5bd', '#2f9e44'], 'circle-stroke-color': '#fff', 'circle-stroke-width': 1.5 } }] },
  { source: 'cases', layers: [{ id: 'cases-dot', type: 'circle',
    paint: { 'circle-radius': 7, 'circle-color': ['case', ['get', 'overdue'], '#e03131', '#1971c2'], 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } }] },
  // The coverage report's places: gaps (red), overlaps (orange), parts outside the parent (violet).
  { source: 'coverage', layers: [
    { id: 'coverage-fill', type: 'fill', paint: { 'fill-color': coverageColours, 'fill-opacity': 0.5 } },
    { id: 'coverage-line', type: 'line', paint: { 'line-color': coverageColours, 'line-width': 2 } }] },
  // An import's file (when the page can read it) and the report's problem places: shown only with
  // the data exchange screen (setOverlayVisible).
  { source: 'gis-file', hidden: true, layers: [
    { id: 'gis-file-line', type: 'line',
      paint: { 'line-color': ['case', ['get', 'problem'], '#c92a2a', '#1c7ed6'], 'line-width': ['case', ['get', 'problem'], 3, 1.5], 'line-dasharray': [2, 1] } }] },
  { source: 'gis-problems', hidden: true, layers: [
    { id: 'gis-problems-fill', type: 'fill', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#e03131', 'fill-opacity': 0.45 } },
    { id: 'gis-problems-line', type: 'line', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'line-color': '#c92a2a', 'line-width': 2.5 } },
    { id: 'gis-problems-dot', type: 'circle', filter: ['==', ['geometry-type'], 'Point'],
      paint: { 'circle-radius': 8, 'circle-color': '#e03131', 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } }] },
  // The grid worker's own position.
  { source: 'worker-me', layers: [{ id: 'worker-me-dot', type: 'circle',
    paint: { 'circle-radius': 8, 'circle-color': '#1c7ed6', 'circle-stroke-color': '#fff', 'circle-stroke-width': 3 } }] },
];
const bySource = new Map(specs.map((s) => [s.source, s]));
const overlayLayers = specs.flatMap((s) => s.layers.map((l) => l.id));
// Per map: sources whose visibility a screen has set ({source: visible}); the base map's layers.
const visibility = new WeakMap();
const baseLayers = new WeakMap();

// The layers of the style the map was made with (including those added to it later).
export function setBaseLayers(map, ids) { baseLayers.set(map, new Set(ids)); }
export function isBaseLayer(map, id) { return (baseLayers.get(map) || new Set()).has(id); }

const empty = () => ({ type: 'FeatureCollection', features: [] });

function ensure(map, source) {
  const spec = bySource.get(source);
  if (!spec) throw new Error('no overlay ' + source);
  if (map.getSource(source)) return map.getSource(source);
  map.addSource(source, { type: 'geojson', data: empty() });
  const shown = (visibility.get(map) || {})[source] ?? !spec.hidden;
  // Each layer goes below the first layer above it in this file's order that the map has, or
  // below the first layer that is neither the base map's nor an overlay (the drawing tool's), so
  // the order holds whichever overlay came first.
  const rank = (id) => overlayLayers.indexOf(id);
  for (const layer of spec.layers) {
    const order = map.getLayersOrder();
    const before = order.find((id) => (rank(id) > rank(layer.id)) || (rank(id) < 0 && !isBaseLayer(map, id)));
    map.addLayer({ ...layer, source, layout: { ...(layer.layout || {}), visibility: shown ? 'visible' : 'none' } }, before);
  }
  return map.getSource(source);
}

// Draws `data` (GeoJSON) into the overlay `source`, adding the source and its layers first if the
// map has not got them yet.
export function setOverlay(map, source, data) {
  ensure(map, source).setData(data);
}

// Empties an overlay; nothing to do when it was never drawn.
export function clearOverlay(map, source) {
  if (map.getSource(source)) map.getSource(source).setData(empty());
}

export function setOverlayVisible(map, sources, on) {
  const state = visibility.get(map) || {};
  visibility.set(map, state);
  for (const source of sources) {
    state[source] = on;
    const spec = bySource.get(source);
    for (const layer of spec.layers) if (map.getLayer(layer.id)) map.setLayoutProperty(layer.id, 'visibility', on ? 'visible' : 'none');
  }
}

// The rendered features of those of `layers` the map has (an overlay not drawn yet has none).
export function overlayFeatures(map, point, layers) {
  const have = layers.filter((id) => map.getLayer(id));
  return have.length ? map.queryRenderedFeatures(point, { layers: have }) : [];
}
