// The deck.gl build the dashboard serves: the core, the layers it draws and the JSON
// converter for the map specs written in Python (dashboard/mapspec.py). Nothing else:
// no basemap libraries, no widgets, no tiles.
import { AmbientLight, Deck, DirectionalLight, LightingEffect, MapView, OrbitView } from "@deck.gl/core";
import { ColumnLayer, PathLayer, PolygonLayer, ScatterplotLayer, SolidPolygonLayer, TextLayer } from "@deck.gl/layers";
import { JSONConverter } from "@deck.gl/json";

const converter = new JSONConverter({
  configuration: {
    classes: { MapView, OrbitView, ColumnLayer, PathLayer, PolygonLayer, ScatterplotLayer, SolidPolygonLayer, TextLayer },
  },
});

// "{label}" in a tooltip template takes the picked object's field.
function tooltipOf(template) {
  if (!template || !template.text) {
    return null;
  }
  return ({ object }) => {
    if (!object) {
      return null;
    }
    const text = template.text.replace(/\{(\w+)\}/g, (_, key) => (object[key] == null ? "" : String(object[key])));
    return text.trim() ? { text } : null;
  };
}

// jsonInput: {initialViewState, views, layers} in deck.gl's JSON form.
function createDeck({ container, jsonInput, tooltip }) {
  const props = converter.convert(jsonInput || {});
  return new Deck({
    parent: container,
    width: "100%",
    height: "100%",
    controller: true,
    // loaders.gl would fetch worker code and libraries from a CDN if a layer ever loaded
    // a file: our layers get their data inline, and the exhibit may have no internet
    loadOptions: { worker: false, useLocalLibraries: true },
    ...props,
    getTooltip: tooltipOf(tooltip),
  });
}

// Layer specs in JSON form to layer instances.
function convertLayers(specs) {
  return converter.convert({ layers: specs || [] }).layers || [];
}

// The city's light: {ambient: {color, intensity}, sun: {color, intensity, direction}} (the
// direction the sunlight travels, x east, y north, z up), written in Python from the city's clock.
function lighting(light) {
  if (!light) {
    return [];
  }
  const lights = { ambient: new AmbientLight(light.ambient) };
  if (light.sun && light.sun.intensity > 0) {
    lights.sun = new DirectionalLight(light.sun);
  }
  return [new LightingEffect(lights)];
}

window.smartcityDeck = { createDeck, convertLayers, lighting };
