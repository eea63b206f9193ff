// The SIM list's bulk bar: show only the inputs the chosen action uses (all show without JS).
(function () {
  "use strict";
  const form = document.getElementById("bulk-form");
  if (!form) return;
  const action = form.querySelector('select[name="action"]');
  const inputs = Array.from(form.querySelectorAll("[data-for]"));
  if (!action || !inputs.length) return;
  const update = () => {
    inputs.forEach((el) => { el.hidden = !el.dataset.for.split(" ").includes(action.value); });
  };
  action.addEventListener("change", update);
  update();
})();
