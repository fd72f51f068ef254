// Renders pydeck JSON specs with the deck.gl bundle served by the app itself
// (/_smartcity/deck.js defines window.createDeck and window.updateDeck).
(function () {
  const decks = {};

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
        if (name === "deck-click-event" && info && info.object) {
          container.dispatchEvent(new CustomEvent("smartcity-pick", { detail: info.object, bubbles: true }));
          window.smartcityLastPick = info.object;
        }
      },
    });
    decks[containerId] = { deck, container };
    return true;
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    smartcity: {
      renderDeck: function (spec, containerId) {
        render(containerId, spec);
        return "";
      },
    },
  });
})();
