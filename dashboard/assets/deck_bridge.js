// Renders deck.gl JSON specs (written by dashboard/mapspec.py) with the deck.gl build served
// by the app itself (/_smartcity/deck.js defines window.smartcityDeck), hands picks
// back to Dash, turns the wall's camera and runs the exhibit's attract loop.
(function () {
  const decks = {};

  // JSON layer specs to layer instances (deck.gl's JSON converter).
  function convertLayers(layerSpecs) {
    return window.smartcityDeck.convertLayers(layerSpecs);
  }

  function deckReady() {
    return Boolean(window.smartcityDeck);
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
    if (!deckReady()) {
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
    if (!deckReady()) {
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
      const deck = window.smartcityDeck.createDeck({
        container,
        jsonInput: { initialViewState: still.view, views: [{ "@@type": "MapView", controller: true }], layers: [] },
        tooltip: { text: "{label}" },
        handleEvent: () => {},  // clicks are wired below, with the picked object
      });
      entry = { deck, container, view: Object.assign({}, still.view), still: null, stillLayers: [] };
      decks[containerId] = entry;
      entry.furniture = addFurniture(container);
      updateFurniture(entry.furniture, entry.view);
      deck.setProps({ onViewStateChange: ({ viewState }) => updateFurniture(entry.furniture, viewState) });
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
      // window.smartcityDrawn[id]: when the map was first drawn with its still layers (the
      // wall's "first meaningful render", which the benchmark waits for);
      // window.smartcityAllDrawn[id]: when the far buildings had followed.
      deck.setProps({
        onAfterRender: () => {
          if (entry.awaitingDraw) {
            entry.awaitingDraw = false;
            window.smartcityDrawn = Object.assign({}, window.smartcityDrawn, { [containerId]: performance.now() });
            if (entry.later) {
              window.setTimeout(() => addLater(entry), 0);
            } else {
              entry.awaitingAll = true;
            }
          } else if (entry.awaitingAll) {
            entry.awaitingAll = false;
            window.smartcityAllDrawn = Object.assign({}, window.smartcityAllDrawn, {
              [containerId]: performance.now(),
            });
          }
        },
      });
    }
    if (entry.still !== still) {
      entry.still = still;
      const [first, later] = nearFirst(still.layers || [], still.view);
      entry.stillLayers = convertLayers(first);
      entry.later = later.length ? later : null;
      entry.awaitingDraw = entry.stillLayers.length > 0;
    }
    applySky(entry, live && live.sky);
    entry.liveLayers = convertLayers(liveSpecs);
    entry.deck.setProps({ layers: [...entry.stillLayers, ...entry.liveLayers] });
    return true;
  }

  // A north arrow and a scale bar in a corner of every map, kept true as the camera moves.
  function addFurniture(container) {
    const compass = document.createElement("div");
    compass.className = "sc-compass";
    compass.setAttribute("role", "img");
    compass.setAttribute("aria-label", "북쪽 · north");
    compass.innerHTML = '<span class="sc-compass-arrow" aria-hidden="true">▲</span><span class="sc-compass-n" aria-hidden="true">N</span>';
    const scale = document.createElement("div");
    scale.className = "sc-scale";
    scale.innerHTML = '<span class="sc-scale-bar"></span><span class="sc-scale-text"></span>';
    container.appendChild(compass);
    container.appendChild(scale);
    return { compass, scale };
  }

  const NICE_METRES = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
  function updateFurniture(furniture, view) {
    if (!furniture || !view) {
      return;
    }
    furniture.compass.style.transform = "rotate(" + -(view.bearing || 0) + "deg)";
    // metres per screen pixel at the centre of the view (deck.gl's 512-pixel world at zoom 0)
    const metresPerPixel = (40075016.686 * Math.cos(((view.latitude || 0) * Math.PI) / 180)) / (512 * Math.pow(2, view.zoom || 0));
    const metres = NICE_METRES.find((m) => m / metresPerPixel >= 80) || NICE_METRES[NICE_METRES.length - 1];
    furniture.scale.querySelector(".sc-scale-bar").style.width = Math.round(metres / metresPerPixel) + "px";
    furniture.scale.querySelector(".sc-scale-text").textContent = metres >= 1000 ? metres / 1000 + " km" : metres + " m";
  }

  // The sky by the city's clock (dashboard/sky.py): the colour behind the city and its light.
  function applySky(entry, sky) {
    if (!sky) {
      return;
    }
    const key = JSON.stringify(sky);
    if (entry.skyKey === key) {
      return;
    }
    entry.skyKey = key;
    const [r, g, b] = sky.background;
    entry.container.style.background = "rgb(" + r + ", " + g + ", " + b + ")";
    entry.container.dataset.sky = sky.phase;
    entry.deck.setProps({ effects: window.smartcityDeck.lighting(sky.light) });
  }

  // A big building layer is drawn in two steps: the buildings nearest the view's centre in
  // the first frame, the rest right after it, so a wall PC without a strong GPU shows the
  // city's core at once instead of tessellating every footprint first.
  const FIRST_FRAME_FEATURES = 4000;
  function nearFirst(specs, view) {
    const first = [];
    const later = [];
    specs.forEach((spec) => {
      const data = spec.data;
      if (!Array.isArray(data) || data.length <= FIRST_FRAME_FEATURES || !data[0] || !data[0].ring) {
        first.push(spec);
        return;
      }
      const cx = view.longitude;
      const cy = view.latitude;
      const byDistance = data
        .map((d) => [Math.pow(d.ring[0][0] - cx, 2) + Math.pow((d.ring[0][1] - cy) * 1.25, 2), d])
        .sort((a, b) => a[0] - b[0])
        .map((pair) => pair[1]);
      first.push(Object.assign({}, spec, { data: byDistance.slice(0, FIRST_FRAME_FEATURES) }));
      later.push(Object.assign({}, spec, { id: spec.id + "-far", data: byDistance.slice(FIRST_FRAME_FEATURES) }));
    });
    return [first, later];
  }

  function addLater(entry) {
    if (!entry.later) {
      return;
    }
    entry.stillLayers = entry.stillLayers.concat(convertLayers(entry.later));
    entry.later = null;
    entry.awaitingAll = true;
    entry.deck.setProps({ layers: [...entry.stillLayers, ...(entry.liveLayers || [])] });
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
        updateFurniture(entry.furniture, entry.view);
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

  // The ids of the layers a map draws now, and its sky's phase (for people checking a wall, and tests).
  window.smartcityLayers = function (containerId) {
    const entry = decks[containerId];
    return entry ? (entry.deck.props.layers || []).map((layer) => layer.id) : [];
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
