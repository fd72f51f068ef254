// Renders pydeck JSON specs with the deck.gl bundle served by the app itself
// (/_smartcity/deck.js defines window.createDeck and window.updateDeck), hands picks
// back to Dash, turns the wall's camera and runs the exhibit's attract loop.
(function () {
  const decks = {};

  function pickStore(containerId) {
    return containerId.replace(/-map$/, "-picked");
  }

  function render(containerId, spec) {
    const container = document.getElementById(containerId);
    if (!container || !spec || typeof window.createDeck !== "function") {
      return false;
    }
    const existing = decks[containerId];
    if (existing && existing.container === container) {
      const { initialViewState, ...rest } = spec;
      window.updateDeck(rest, existing.deck);
      return true;
    }
    container.innerHTML = "";
    const deck = window.createDeck({
      container,
      jsonInput: spec,
      tooltip: { text: "{label}" },
      handleEvent: (name, info) => {
        if (name !== "deck-click-event" || !info || !info.object) {
          return;
        }
        const layer = info.layer && info.layer.id;
        const picked = { layer, building_id: info.object.building_id, device_id: info.object.device_id };
        window.smartcityLastPick = picked;
        if (window.dash_clientside && window.dash_clientside.set_props) {
          window.dash_clientside.set_props(pickStore(containerId), { data: picked });
        }
      },
    });
    decks[containerId] = { deck, container, view: Object.assign({}, spec.initialViewState) };
    return true;
  }

  // The wall: a slow orbit that nobody has to touch (degrees per second). Four steps a
  // second are smooth at this speed and leave the CPU to the data (wall PCs are small).
  function orbit(containerId, degreesPerSecond) {
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
      entry.view.bearing = ((entry.view.bearing || 0) + ((now - last) / 1000) * degreesPerSecond) % 360;
      last = now;
      entry.deck.setProps({ initialViewState: Object.assign({}, entry.view, { transitionDuration: 0 }) });
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
      renderDeck: function (spec, containerId) {
        render(containerId, spec);
        return "";
      },
      renderOrbitingDeck: function (spec, containerId) {
        if (render(containerId, spec)) {
          orbit(containerId, 2.0);
        }
        return "";
      },
      armAttract: function (idleSeconds, rootId) {
        attract(rootId, idleSeconds || 60);
        return "";
      },
    },
  });
})();
