// Renders pydeck JSON specs with the deck.gl bundle served by the app itself
// (/_smartcity/deck.js defines window.createDeck and window.updateDeck), hands picks
// back to Dash, turns the wall's camera and runs the exhibit's attract loop.
(function () {
  const decks = {};

  // pydeck's converter, without touching a deck: JSON layer specs to layer instances.
  function convertLayers(layerSpecs) {
    let converted = [];
    window.updateDeck({ layers: layerSpecs }, { setProps: (props) => (converted = props.layers || []) });
    return converted;
  }

  // Picks go to a dcc.Store (``pickStore``) on pages that have one.
  function onClick(containerId, pickStore) {
    return (name, info) => {
      if (name !== "deck-click-event" || !info || !info.object) {
        return;
      }
      const layer = info.layer && info.layer.id;
      const picked = { layer, building_id: info.object.building_id, device_id: info.object.device_id };
      window.smartcityLastPick = picked;
      if (pickStore && window.dash_clientside && window.dash_clientside.set_props) {
        window.dash_clientside.set_props(pickStore, { data: picked });
      }
    };
  }

  // A map in two parts: ``still`` (view and the heavy layers: buildings, streets) changes
  // rarely; ``live`` (sensors) every refresh. Still layers are converted once and their
  // instances reused, so deck.gl never re-tessellates twenty thousand buildings to move a
  // sensor column.
  // Maps asked for before the (async) deck.gl bundle has run: drawn as soon as it has.
  const waiting = {};
  function whenDeckReady() {
    if (typeof window.createDeck !== "function") {
      window.setTimeout(whenDeckReady, 50);
      return;
    }
    Object.keys(waiting).forEach((id) => {
      const args = waiting[id];
      delete waiting[id];
      args.after(renderSplit(id, args.still, args.live, args.pickStore));
    });
  }

  function renderSplit(containerId, still, live, pickStore, after) {
    const container = document.getElementById(containerId);
    if (!container || !still) {
      return false;
    }
    if (typeof window.createDeck !== "function") {
      const first = Object.keys(waiting).length === 0;
      waiting[containerId] = { still, live, pickStore, after: after || (() => {}) };
      if (first) {
        whenDeckReady();
      }
      return false;
    }
    const liveSpecs = (live && live.layers) || [];
    let entry = decks[containerId];
    if (!entry || entry.container !== container) {
      container.innerHTML = "";
      const deck = window.createDeck({
        container,
        jsonInput: { initialViewState: still.view, views: [{ "@@type": "MapView", controller: true }], layers: [] },
        tooltip: { text: "{label}" },
        handleEvent: () => {},  // clicks are wired below, with the picked object
      });
      entry = { deck, container, view: Object.assign({}, still.view), still: null, stillLayers: [] };
      decks[containerId] = entry;
      // window.smartcityDrawn[id]: when the map was first drawn with its still layers (the
      // wall's "first meaningful render", which the benchmark waits for).
      // Picks from the DOM's own click (not deck.gl's gesture recogniser, which misses taps
      // when a slow software-rendered frame delays the pointer-up): ignore drags.
      const picked = onClick(containerId, pickStore);
      let downAt = null;
      container.addEventListener("pointerdown", (e) => (downAt = [e.clientX, e.clientY]));
      container.addEventListener("click", (e) => {
        if (downAt && Math.hypot(e.clientX - downAt[0], e.clientY - downAt[1]) > 6) {
          return;
        }
        const rect = container.getBoundingClientRect();
        const info = deck.pickObject({ x: e.clientX - rect.left, y: e.clientY - rect.top, radius: 3 });
        picked("deck-click-event", info);
      });
      deck.setProps({
        onAfterRender: () => {
          if (entry.awaitingDraw) {
            entry.awaitingDraw = false;
            window.smartcityDrawn = Object.assign({}, window.smartcityDrawn, { [containerId]: performance.now() });
          }
        },
      });
    }
    if (entry.still !== still) {
      entry.still = still;
      entry.stillLayers = convertLayers(still.layers || []);
      entry.awaitingDraw = entry.stillLayers.length > 0;
    }
    entry.deck.setProps({ layers: [...entry.stillLayers, ...convertLayers(liveSpecs)] });
    return true;
  }

  // The wall: a slow orbit that nobody has to touch (degrees per second). Four steps a
  // second are smooth at this speed and leave the CPU to the data (wall PCs are small).
  function orbit(containerId, degreesPerSecond, onlyWhenAttracting) {
    const entry = decks[containerId];
    if (!entry || entry.orbiting) {
      return;
    }
    entry.orbiting = true;
    let last = performance.now();
    function step() {
      const current = decks[containerId];
      if (!current || current !== entry || !document.body.contains(entry.container)) {
        return;
      }
      const now = performance.now();
      const root = onlyWhenAttracting && document.getElementById(onlyWhenAttracting);
      if (!root || root.classList.contains("attract")) {
        entry.view.bearing = ((entry.view.bearing || 0) + ((now - last) / 1000) * degreesPerSecond) % 360;
        entry.deck.setProps({ initialViewState: Object.assign({}, entry.view, { transitionDuration: 0 }) });
      }
      last = now;
      window.setTimeout(step, 250);
    }
    window.setTimeout(step, 250);
  }

  // The exhibit: after `idleSeconds` without a touch, the attract loop starts; a touch ends it.
  function attract(rootId, idleSeconds) {
    const root = document.getElementById(rootId);
    if (!root || root.dataset.attractArmed) {
      return;
    }
    root.dataset.attractArmed = "1";
    let timer = null;
    function arm() {
      root.classList.remove("attract");
      window.clearTimeout(timer);
      timer = window.setTimeout(() => root.classList.add("attract"), idleSeconds * 1000);
    }
    ["pointerdown", "touchstart", "keydown", "wheel"].forEach((name) =>
      document.addEventListener(name, arm, { passive: true })
    );
    arm();
  }

  // Screen position of a place on a rendered map (for people checking the wall, and tests).
  window.smartcityProject = function (containerId, lon, lat, z) {
    const entry = decks[containerId];
    if (!entry) {
      return null;
    }
    const viewport = entry.deck.getViewports()[0];
    const rect = entry.container.getBoundingClientRect();
    const [x, y] = viewport.project([lon, lat, z || 0]);
    return [rect.left + x, rect.top + y];
  };

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    smartcity: {
      renderMap: function (still, live, containerId, pickStore) {
        renderSplit(containerId, still, live, pickStore);
        return "";
      },
      renderOrbitingMap: function (still, live, containerId, onlyWhenAttracting) {
        const start = (drawn) => drawn && orbit(containerId, 2.0, onlyWhenAttracting);
        start(renderSplit(containerId, still, live, undefined, start));
        return "";
      },
      armAttract: function (idleSeconds, rootId) {
        attract(rootId, idleSeconds || 60);
        return "";
      },
    },
  });
})();
