"""The demo's single HTML page: inline CSS and vanilla JavaScript, nothing fetched from elsewhere.

The page is served with a Content-Security-Policy that allows only this page's own
style and script (by their SHA-256) and requests to the same origin, so the browser
itself refuses to load anything from the internet.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from string import Template

STYLE = """
:root { --ink: #1d2430; --muted: #5a6474; --line: #d8dde5; --accent: #1f5fbf; --warn: #8a5a00;
        --warn-bg: #fff5dd; --err: #a4161a; --err-bg: #fde8e8; --card: #ffffff; --bg: #f4f6f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
header, main, footer { max-width: 980px; margin: 0 auto; padding: 0 18px; }
header { padding-top: 14px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 24px; margin: 0; }
h3 { font-size: 15px; margin: 14px 0 4px; }
.notice { background: #eef3fb; border-left: 4px solid var(--accent); padding: 6px 10px; margin: 8px 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 12px 0; }
.model { color: var(--muted); font-size: 13px; }
.model b { color: var(--ink); font-weight: 600; }
#drop { display: block; border: 2px dashed #9aa6b8; border-radius: 8px; padding: 16px; text-align: center; background: var(--card); }
#drop.over { border-color: var(--accent); background: #eaf1fd; }
#drop.busy { opacity: .6; }
#drop small { color: var(--muted); display: block; margin-top: 6px; }
#status { min-height: 1.4em; color: var(--muted); margin: 6px 0; }
#error { background: var(--err-bg); color: var(--err); border: 1px solid #f3b7b7; border-radius: 8px; padding: 10px 14px; font-weight: 600; }
.headline { display: flex; align-items: baseline; gap: 14px; flex-wrap: wrap; }
.prob { font-size: 18px; }
.uncertainty { font-weight: 600; }
.bar { position: relative; height: 14px; background: #e4e8ee; border-radius: 7px; margin: 10px 0 2px; max-width: 520px; }
.bar .fill { position: absolute; left: 0; top: 0; bottom: 0; background: var(--accent); border-radius: 7px; }
.bar .tick { position: absolute; top: -4px; bottom: -4px; width: 3px; background: var(--ink); }
.barlabel { font-size: 13px; color: var(--muted); max-width: 520px; }
.validation { background: #eef3fb; border-radius: 6px; padding: 5px 10px; margin: 6px 0; }
.validation.none { background: var(--warn-bg); color: var(--warn); }
.images { display: flex; gap: 14px; flex-wrap: wrap; margin-top: 10px; }
figure { margin: 0; flex: 1 1 300px; max-width: 440px; }
figure img { width: 100%; height: auto; border-radius: 6px; border: 1px solid var(--line); display: block; }
figcaption { font-size: 12.5px; color: var(--muted); margin-top: 4px; }
.scale { display: flex; align-items: center; gap: 6px; font-size: 12px; color: var(--muted); margin-top: 4px; }
.scale .ramp { flex: 1; height: 10px; border-radius: 3px; border: 1px solid var(--line);
  background: linear-gradient(to right, #00007f, #0000ff, #007fff, #00ffff, #7fff7f, #ffff00, #ff7f00, #ff0000, #7f0000); }
ul.quality { margin: 4px 0; padding-left: 0; list-style: none; }
ul.quality li { background: var(--warn-bg); color: var(--warn); border-radius: 6px; padding: 5px 10px; margin: 4px 0; }
ul.quality li.ok { background: #e9f6ec; color: #23603a; }
footer { color: var(--muted); font-size: 12.5px; margin-top: 18px; padding-bottom: 20px; }
"""

SCRIPT = """
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("config").textContent);
  var drop = document.getElementById("drop");
  var input = document.getElementById("file");
  var statusEl = document.getElementById("status");
  var errorEl = document.getElementById("error");
  var resultEl = document.getElementById("result");

  function label(s) { return String(s).replace(/_/g, " "); }
  function percent(p) { return (100 * p).toFixed(1) + " %"; }
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = text; }
    if (cls) { node.className = cls; }
    return node;
  }
  function byId(id) { return document.getElementById(id); }

  function showError(message) {
    errorEl.textContent = message;
    errorEl.hidden = false;
    resultEl.hidden = true;
    statusEl.textContent = "";
  }

  function render(r) {
    // dermfeat.uncertainty: no class for a photograph unlike the training ones; say so when both classes remain
    var outside = r.in_distribution === false;
    var both = !outside && r.prediction_set && r.prediction_set.length > 1;
    var answer = byId("uncertainty");
    answer.hidden = !(outside || both);
    byId("decision").textContent = outside ? "Not recognised" : both ? "Uncertain: could be either" : label(r["class"]);
    answer.textContent = outside ? "This does not look like the skin photographs the model was trained on, so it " +
      "gives no class. Upload a close, sharp photograph of the skin." : both ? "The model cannot tell " +
      r.prediction_set.map(label).join(" from ") + " apart for this photograph: both stay possible at its " +
      "confidence level. The probability below is its best guess, not an answer." : "";
    ["probability", "fill", "tick", "barlabel", "rule"].forEach(function (id) {
      byId(id).style.visibility = outside ? "hidden" : "";
    });
    byId("probability").textContent = both ? "best guess " + label(r["class"]) + ", probability " +
      percent(r.probability) : "probability " + percent(r.probability);
    var pos = r.positive_class, p = r.positive_probability;
    byId("fill").style.width = (100 * p).toFixed(1) + "%";
    var tick = byId("tick");
    var t = r.threshold;
    if (t === null && config.classes.length === 2) { t = 0.5; }
    if (t === null) { tick.hidden = true; } else { tick.hidden = false; tick.style.left = "calc(" + (100 * t).toFixed(1) + "% - 1px)"; }
    byId("barlabel").textContent = "Probability of " + label(pos) + ": " + p.toFixed(3) +
      (t === null ? "" : (p >= t ? " \\u2265 " : " < ") + "threshold " + t.toFixed(3));
    byId("rule").textContent = "Decision rule: " + r.decision_rule + "." + (r.threshold !== null && r.probability < 0.5 ?
      " The tuned threshold decides here: " + label(r["class"]) + " is predicted although its probability is below 50 %." : "");
    var validation = byId("validation");
    validation.textContent = r.validation.charAt(0).toUpperCase() + r.validation.slice(1) +
      (r.validated ? " (mean \u00b1 std over the test folds of a grouped cross-validation of this pipeline)." : ".");
    validation.className = r.validated ? "validation" : "validation none";

    var figures = byId("figures");
    figures.hidden = !r.heatmap || outside;
    figures.style.display = figures.hidden ? "none" : "";  // .images sets display, which [hidden] does not override
    if (r.heatmap) {
      byId("photo").src = r.image;
      byId("heatmap").src = r.heatmap;
      byId("heatcaption").textContent = "Occlusion heat map for " + label(r.heatmap_target) +
        ": warm colours mark the regions whose covering lowers that probability most (" +
        r.heatmap_evaluations + " occluded copies). It shows what the model relies on, not where the disease is.";
      byId("scalemax").textContent = "\u2212" + r.heatmap_max_drop.toFixed(3);
    }

    var list = byId("quality");
    list.textContent = "";
    if (!r.quality_warnings.length) {
      list.appendChild(el("li", "No image-quality warnings (sharpness, exposure and colour look usable).", "ok"));
    }
    r.quality_warnings.forEach(function (w) { list.appendChild(el("li", w.message)); });

    var tone = r.skin_tone;
    byId("skintone").textContent = outside ? "Not estimated: the photograph was not recognised as skin." :
      "Skin-tone group: " + tone.category + " (median individual typology angle " +
      tone.ita.toFixed(1) + "\\u00b0)." + (tone.reliable ? "" :
      " Few skin-coloured pixels were found, so this estimate used the whole photo and is unreliable.") +
      " Model accuracy can differ between skin-tone groups.";

    var extra = byId("extra");
    extra.textContent = "";
    if (r.subtypes && !outside) {  // a model fitted on subtypes; never for a photograph it does not recognise
      extra.appendChild(el("h3", "Most likely subtypes"));
      var subtypes = el("ol", null, "subtypes");
      r.subtypes.forEach(function (s) { subtypes.appendChild(el("li", s.subtype + ": " + percent(s.probability))); });
      extra.appendChild(subtypes);
      extra.appendChild(el("p", "The types of eczema the model learned from its training photographs, with their " +
        "probabilities; the decision above is on the sum over each class's subtypes. Not a diagnosis.", "model"));
    }
    if (r.severity) {
      extra.appendChild(el("h3", "Severity (separate ordinal model)"));
      var levels = Object.keys(r.severity.probabilities).map(function (k) {
        return k + ": " + percent(r.severity.probabilities[k]);
      }).join(", ");
      extra.appendChild(el("p", "Level " + r.severity.level + " (probability " + percent(r.severity.probability) +
        "; " + levels + ")."));
    }
    byId("timing").textContent = "Analysed " + r.width + "\\u00d7" + r.height + " px in " + r.seconds.toFixed(1) +
      " s. The photo was kept in memory only and has not been stored.";
    errorEl.hidden = true;
    resultEl.hidden = false;
    statusEl.textContent = "";
  }

  function analyse(file) {
    if (!file) { return; }
    if (file.size > config.max_upload_bytes) {
      showError(file.name + " is " + (file.size / 1048576).toFixed(1) + " MB; the limit is " + config.max_upload_label + ".");
      return;
    }
    if (file.size === 0) { showError(file.name + " is empty (0 bytes)."); return; }
    errorEl.hidden = true;
    resultEl.hidden = true;
    statusEl.textContent = "Analysing " + file.name + " \\u2026";
    drop.classList.add("busy");
    input.disabled = true;
    var form = new FormData();
    form.append("file", file, file.name);
    fetch("api/predict?heatmap=1", { method: "POST", body: form })
      .then(function (response) {
        return response.text().then(function (text) {
          var body = null;
          try { body = JSON.parse(text); } catch (e) { body = null; }
          return { ok: response.ok, status: response.status, body: body };
        });
      })
      .then(function (res) {
        if (res.ok && res.body) { render(res.body); return; }
        showError((res.body && res.body.message) || ("The server could not analyse this file (HTTP " + res.status + ")."));
      })
      .catch(function () { showError("The server could not be reached: is dermfeat serve still running?"); })
      .then(function () { drop.classList.remove("busy"); input.disabled = false; input.value = ""; });
  }

  input.addEventListener("change", function () { analyse(input.files[0]); });
  ["dragenter", "dragover"].forEach(function (type) {
    drop.addEventListener(type, function (event) { event.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    drop.addEventListener(type, function () { drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (event) {
    event.preventDefault();
    if (!input.disabled && event.dataTransfer && event.dataTransfer.files.length) { analyse(event.dataTransfer.files[0]); }
  });
  // a file dropped beside the zone must not make the browser navigate to it
  window.addEventListener("dragover", function (event) { event.preventDefault(); });
  window.addEventListener("drop", function (event) { event.preventDefault(); });
}());
"""

PAGE = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>dermfeat web demo</title>
<link rel="icon" href="data:,">
<style>$style</style>
</head>
<body>
<header>
<h1>dermfeat web demo: atopic dermatitis or another eczema?</h1>
<p class="notice"><strong>Not a diagnosis.</strong> $disclaimer</p>
</header>
<main>
<section class="card model" id="model">
<div><b>Model:</b> $model</div>
<div><b>What it looks at:</b> $view</div>
<div><b>Classes:</b> $classes</div>
<div><b>Decision rule:</b> $rule.</div>
<div><b>Validation:</b> $validation.</div>
</section>
<label id="drop" for="file">
<strong>Drop a photo here, or choose a file:</strong><br>
<input id="file" name="file" type="file" accept="$accept">
<small>$formats; at most $max_upload and $max_pixels. The photo is analysed in memory and not stored.</small>
</label>
<noscript><p id="noscript">This page needs JavaScript; scripts can use POST /api/predict instead.</p></noscript>
<div id="status" role="status" aria-live="polite"></div>
<div id="error" role="alert" hidden></div>
<section id="result" class="card" hidden>
<div class="headline"><h2 id="decision"></h2><span class="prob" id="probability"></span></div>
<div class="bar" aria-hidden="true"><div class="fill" id="fill"></div><div class="tick" id="tick"></div></div>
<div class="barlabel" id="barlabel"></div>
<p id="uncertainty" class="uncertainty" hidden></p>
<p id="rule"></p>
<p id="validation" class="validation"></p>
<div class="images" id="figures">
<figure><img id="photo" alt="the analysed photo"><figcaption>The analysed photo.</figcaption></figure>
<figure><img id="heatmap" alt="occlusion heat map over the photo">
<div class="scale" title="change of the probability when the region is covered"><span>no change</span><span class="ramp"></span><span id="scalemax"></span></div>
<figcaption id="heatcaption"></figcaption></figure>
</div>
<h3>Image quality</h3>
<ul class="quality" id="quality"></ul>
<h3>Skin tone</h3>
<p id="skintone"></p>
<div id="extra"></div>
<p class="notice"><strong>Not a diagnosis.</strong> The result is a model output to discuss, not a finding.</p>
<p class="model" id="timing"></p>
</section>
</main>
<footer>dermfeat $version &middot; runs on this computer; nothing is sent elsewhere. JSON for scripts: POST /api/predict.</footer>
<script type="application/json" id="config">$config</script>
<script>$script</script>
</body>
</html>
""")


def _sha256(text):
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy():
    """The page's Content-Security-Policy: its own inline style and script, same-origin requests only.

    Examples
    --------
    >>> from dermfeat.serve._page import content_security_policy
    >>> "default-src 'none'" in content_security_policy()
    True
    """
    return (
        "default-src 'none'; "
        f"script-src {_sha256(SCRIPT)}; style-src {_sha256(STYLE)}; "
        "img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )


def _size(n):
    return f"{n / 1024 / 1024:.0f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} kB"


#: What each feature family of ``dermfeat fit --features`` measures, in plain words.
FEATURE_WORDS = {
    "efficientnet": "a general image-recognition network (EfficientNet-Lite0)",
    "efficientnet_lite2": "a general image-recognition network (EfficientNet-Lite2)",
    "dinov2": "a general image-recognition network (DINOv2)",
    "dinov2_patch": "a general image-recognition network (DINOv2)",
    "dinov2_gem": "a general image-recognition network (DINOv2)",
    "dinov2_lesion": "a general image-recognition network (DINOv2), looking at the lesion",
    "dinov2_336": "a general image-recognition network (DINOv2, in finer detail)",
    "dinov2_336_gem": "a general image-recognition network (DINOv2, in finer detail)",
    "dinov2_336_lesion": "a general image-recognition network (DINOv2, in finer detail), looking at the lesion",
    "handcrafted": "measurements of colour, redness and skin texture",
    "color": "colour measurements",
    "lbp": "skin-texture measurements",
    "gabor": "skin-texture measurements",
    "glcm": "skin-texture measurements",
    "redness": "redness measurements",
    "skin_tone": "skin-tone measurements",
    "quality": "image-quality measurements",
}

#: How each classifier head of ``dermfeat fit --head`` combines them, in plain words.
HEAD_WORDS = {
    "logistic": "weighed by a logistic-regression model",
    "svm": "weighed by a support-vector machine",
    "mlp": "weighed by a small neural network",
    "gb": "weighed by gradient-boosted decision trees",
}


def describe_model(info):
    """The model in words a clinician reads: what describes the photo, how it is weighed, on what data.

    Examples
    --------
    >>> from dermfeat.serve._page import describe_model
    >>> describe_model({"features": "efficientnet+color", "head": "logistic", "n_training_images": 596})
    'photos described by a general image-recognition network (EfficientNet-Lite0) and colour measurements, \
weighed by a logistic-regression model, trained on 596 photos'
    """
    parts, words = [], []
    for name in str(info.get("features") or "").split("+"):
        name = name.strip()
        if not name:
            continue
        base = name.removesuffix("_int8")
        word = FEATURE_WORDS.get(base, f"{base.replace('_', ' ')} features")
        if base != name:
            word += " in its compact 8-bit version"
        if word not in words:
            words.append(word)
    if words:
        parts.append("photos described by " + (" and ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1
                                               else words[0]))
    if info.get("head"):
        parts.append(HEAD_WORDS.get(str(info["head"]), f"weighed by a {info['head']} model"))
    if info.get("n_training_images"):
        parts.append(f"trained on {info['n_training_images']} photos")
    if info.get("dermfeat_version"):
        parts.append(f"dermfeat {info['dermfeat_version']}")
    if info.get("saved"):
        parts.append(f"saved {str(info['saved'])[:10]}")
    return ", ".join(parts)


def render_page(info, *, max_upload_bytes, max_pixels, heic, disclaimer, version):
    """The HTML page for a model described by ``info`` (:attr:`DemoPredictor.info_`)."""
    formats = "JPEG, PNG, WebP" + (", HEIC" if heic else "")
    accept = "image/jpeg,image/png,image/webp" + (",image/heic,image/heif,.heic,.heif" if heic else "")
    config = {
        "classes": info["classes"],
        "max_upload_bytes": int(max_upload_bytes),
        "max_upload_label": _size(max_upload_bytes),
        "max_pixels": int(max_pixels),
    }
    esc = html.escape
    return PAGE.substitute(
        style=STYLE,
        script=SCRIPT,
        disclaimer=esc(disclaimer),
        model=esc(describe_model(info) or "a fitted classifier"),
        view=esc(info.get("view") or "the whole photo"),
        classes=esc(", ".join(c.replace("_", " ") for c in info["classes"])),
        rule=esc(info["decision_rule"]),
        validation=esc(info.get("validation_text") or "not validated"),
        accept=esc(accept),
        formats=esc(formats),
        max_upload=esc(_size(max_upload_bytes)),
        max_pixels=esc(f"{max_pixels / 1e6:g} megapixels"),
        version=esc(str(version)),
        # a JSON data block: "<" escaped so the text can never close the script element
        config=json.dumps(config).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"),
    )
