// The grading form (templates/clinic/grading_form.html), enhanced: a slider beside each number
// (the number stays the field that is sent, so the form works the same without this file) and
// the scores worked out as the clinician goes. The server works them out again when the form
// is saved, with checker/grading/: its scores are the ones kept.
(function () {
  "use strict";

  function checkedPoints(section) {
    var points = [];
    document.querySelectorAll("[data-section='" + section + "'] input[type=radio]:checked").forEach(function (input) {
      points.push(Number(input.getAttribute("data-points")));
    });
    return points;
  }

  function itemCount(section) {
    var names = {};
    document.querySelectorAll("[data-section='" + section + "'] input[type=radio], " +
                              "[data-section='" + section + "'] input[type=number]").forEach(function (input) {
      names[input.name] = true;
    });
    return Object.keys(names).length;
  }

  function sum(values) { return values.reduce(function (a, b) { return a + b; }, 0); }

  // Every item of the section graded: its points; otherwise null (the score is not shown yet).
  function sectionPoints(section) {
    var points = checkedPoints(section);
    return points.length === itemCount(section) ? points : null;
  }

  function numbers(section) {
    var values = [];
    var complete = true;
    document.querySelectorAll("[data-section='" + section + "'] input[type=number]").forEach(function (input) {
      var text = input.value.trim();
      var low = Number(input.min), high = Number(input.max);
      if (!/^[0-9]{1,4}$/.test(text) || Number(text) < low || Number(text) > high) { complete = false; return; }
      var value = Number(text);
      values.push(input.getAttribute("data-two-sided") === "true" ? 100 - Math.abs(100 - value) : value);
    });
    return complete ? values : null;
  }

  function oneDecimal(value) {  // halves up, as the server (checker/grading/eface.py)
    return (Math.floor(value * 10 + 0.5 + 1e-9) / 10).toFixed(1);
  }

  var formulas = {
    sunnybrook: function () {
      var resting = sectionPoints("resting"), voluntary = sectionPoints("voluntary");
      var synkinesis = sectionPoints("synkinesis");
      var scores = {
        resting: resting && 5 * sum(resting),
        voluntary: voluntary && 4 * sum(voluntary),
        synkinesis: synkinesis && sum(synkinesis)
      };
      if (resting && voluntary && synkinesis) {
        scores.composite = Math.max(0, scores.voluntary - scores.resting - scores.synkinesis);
      }
      return scores;
    },
    eface: function () {
      var scores = {};
      ["static", "dynamic", "synkinesis"].forEach(function (section) {
        var values = numbers(section);
        if (values) { scores[section] = oneDecimal(sum(values) / values.length); }
      });
      return scores;
    },
    "house-brackmann": function () {
      var chosen = document.querySelector("[data-section='grade'] input[type=radio]:checked");
      return { grade: chosen && chosen.value };  // the grade's own code, as the form offers it
    }
  };

  function addSlider(number) {
    var slider = document.createElement("input");
    slider.type = "range";
    slider.className = "slider";
    slider.min = number.min;
    slider.max = number.max;
    slider.step = "1";
    slider.id = number.id + "-slider";
    slider.setAttribute("aria-labelledby", number.id + "-label");
    slider.setAttribute("aria-describedby", number.id + "-hint");
    var normal = number.getAttribute("data-two-sided") === "true" ? 100 : Number(number.max);
    function show() {
      var set = number.value.trim() !== "" && !isNaN(Number(number.value));
      slider.value = set ? number.value : String(normal);
      slider.classList.toggle("slider--unset", !set);
    }
    show();
    slider.addEventListener("input", function () {
      number.value = slider.value;
      slider.classList.remove("slider--unset");
      update();
    });
    number.addEventListener("input", show);
    var row = document.createElement("div");
    row.className = "slider-row";
    number.parentNode.insertBefore(row, number);
    row.appendChild(slider);
    row.appendChild(number);
  }

  var form, totals;

  function update() {
    var scores = formulas[form.getAttribute("data-scale")]();
    totals.querySelectorAll("[data-score]").forEach(function (cell) {
      var value = scores[cell.getAttribute("data-score")];
      cell.textContent = value === null || value === undefined ? "—" : String(value);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    form = document.querySelector(".grading-form");
    totals = document.querySelector(".grading-totals");
    if (!form || !totals || !formulas[form.getAttribute("data-scale")]) { return; }
    form.querySelectorAll("input[type=number]").forEach(addSlider);
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    totals.hidden = false;
    update();
  });
})();
