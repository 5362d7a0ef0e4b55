import RNN

/// The self-contained HTML page of `rnn visualize`: the passage coloured by one neuron, controls to
/// choose it, the neurons found per text property, and the model's guesses on hover. Everything is
/// inline (CSS, script, data as JSON in `<script type="application/json" id="data">`); nothing is
/// loaded from the network.
struct NeuronViewerPage {
  let passage: [Unicode.Scalar]
  let trace: NeuronTrace
  let vocabulary: Vocabulary
  let correlations: [(TextProperty, [NeuronCorrelation])]
  let title: String

  /// Activations are stored as integers in `-quantum ... quantum`: value = q / quantum * scale.
  static let quantum: Float = 100

  var html: String {
    """
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <title>Neurons: \(escapeMarkup(title))</title>
    <style>\(Self.css)</style>
    </head>
    <body>
    <header><h1>Neurons of \(escapeMarkup(title))</h1>
    <p>Each character is coloured by the chosen neuron's value after the model has read it:
    <span class="swatch" style="background:rgb(60,110,255)">&minus;1</span>
    <span class="swatch" style="background:#fff">0</span>
    <span class="swatch" style="background:rgb(255,70,60)">+1</span>
    (<code>c</code> is divided by its largest |value| in the passage). Hover over a character to see
    the model's top 5 guesses for the next one.</p></header>
    <div id="controls">
    <label>Layer <select id="layer"></select></label>
    <label>State <select id="kind"></select></label>
    <label>Neuron <input id="neuron" type="number" min="0" value="0"></label>
    <button id="prev" type="button">&#9664; prev</button><button id="next" type="button">next &#9654;</button>
    <span id="current"></span>
    </div>
    <main>
    <pre id="passage">\(escapeMarkup(String(String.UnicodeScalarView(passage))))</pre>
    <aside id="found"><h2>Neurons that track the text</h2><div id="properties"></div></aside>
    </main>
    <div id="tip" hidden></div>
    <script type="application/json" id="data">\(dataJSON)</script>
    <script>\(Self.script)</script>
    </body>
    </html>

    """
  }

  /// The data the script reads: `text` (one string per character), `layers`, `hidden`, `kinds`,
  /// `activations` (`"<layer><kind>"` -> `H` arrays of `T` integers), `scales` (same keys -> `[H]`),
  /// `quantum`, `guesses` (`T` lists of `[character, probability]`), and `properties` (name and
  /// neurons with `layer`, `kind`, `neuron`, `r`).
  var dataJSON: String {
    var out = "{\"title\":\(scriptString(title)),\"layers\":\(trace.layers),\"hidden\":\(trace.hidden)"
    out += ",\"characters\":\(trace.count),\"quantum\":\(Int(Self.quantum))"
    let kinds = trace.hasCellState ? ["h", "c"] : ["h"]
    out += ",\"kinds\":[" + kinds.map(scriptString).joined(separator: ",") + "]"
    out += ",\"text\":[" + passage.map { scriptString(String($0)) }.joined(separator: ",") + "]"
    var activations: [String] = []
    var scales: [String] = []
    let t = trace.count
    let h = trace.hidden
    for layer in 0..<trace.layers {
      for (k, kind) in kinds.enumerated() {
        let values = trace.values[layer][k]
        var neurons: [String] = []
        var neuronScales: [String] = []
        for i in 0..<h {
          var scale: Float = 1
          if kind == "c" {
            scale = 0
            for step in 0..<t { scale = max(scale, abs(values[step * h + i])) }
            if scale == 0 { scale = 1 }
          }
          neuronScales.append(shortNumber(scale))
          var row = "["
          for step in 0..<t {
            if step > 0 { row += "," }
            row += String(Int((values[step * h + i] / scale * Self.quantum).rounded()))
          }
          neurons.append(row + "]")
        }
        activations.append("\"\(layer)\(kind)\":[" + neurons.joined(separator: ",") + "]")
        scales.append("\"\(layer)\(kind)\":[" + neuronScales.joined(separator: ",") + "]")
      }
    }
    out += ",\"activations\":{" + activations.joined(separator: ",") + "}"
    out += ",\"scales\":{" + scales.joined(separator: ",") + "}"
    out +=
      ",\"guesses\":["
      + trace.guesses.map { list in
        "["
          + list.map { "[\(scriptString(String(vocabulary.scalar(for: $0.token)))),\(shortNumber($0.p))]" }
          .joined(separator: ",") + "]"
      }.joined(separator: ",") + "]"
    out +=
      ",\"properties\":["
      + correlations.map { property, list in
        "{\"name\":\(scriptString(property.rawValue)),\"neurons\":["
          + list.map {
            "{\"layer\":\($0.neuron.layer),\"kind\":\"\($0.neuron.kind.rawValue)\",\"neuron\":\($0.neuron.index),\"r\":\(shortNumber(Float($0.r)))}"
          }.joined(separator: ",") + "]}"
      }.joined(separator: ",") + "]"
    return out + "}"
  }

  static let css = """
    body{font-family:system-ui,sans-serif;margin:0 16px;color:#222}
    h1{font-size:20px;margin:12px 0 4px}h2{font-size:15px;margin:4px 0 8px}
    header p{margin:4px 0 8px;font-size:13px;color:#444}
    .swatch{display:inline-block;padding:0 6px;border:1px solid #bbb;font-family:monospace}
    #controls{position:sticky;top:0;background:#f4f4f4;padding:6px 8px;border:1px solid #ddd;display:flex;gap:12px;align-items:center;z-index:2;font-size:14px}
    #controls input{width:5em}#current{color:#555;font-family:monospace}
    main{display:flex;gap:16px;align-items:flex-start;margin-top:8px}
    #passage{flex:1;min-width:0;font:13px/1.45 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all;margin:0;border:1px solid #ddd;padding:8px}
    #passage span{cursor:default}#passage span:hover{outline:1px solid #000}
    #found{width:300px;flex:none;font-size:13px;position:sticky;top:48px}
    #found h3{font-size:13px;margin:10px 0 4px}
    #found button{display:block;white-space:pre;width:100%;text-align:left;font:12px monospace;background:#fff;border:1px solid #ccc;margin:2px 0;padding:3px 6px;cursor:pointer}
    #found button.selected{background:#ffe9a8;border-color:#c90}
    #found .none{color:#888;font-style:italic}
    #tip{position:fixed;z-index:5;background:#fffff4;border:1px solid #999;box-shadow:2px 2px 6px rgba(0,0,0,.25);padding:6px 8px;font:12px monospace;pointer-events:none}
    #tip table{border-collapse:collapse}#tip td{padding:1px 4px}
    #tip .bar{display:inline-block;height:9px;background:#4a7}
    """

  static let script = """
    (function(){
    "use strict";
    var D = JSON.parse(document.getElementById("data").textContent);
    var passage = document.getElementById("passage");
    var layerSel = document.getElementById("layer"), kindSel = document.getElementById("kind");
    var neuronIn = document.getElementById("neuron"), current = document.getElementById("current");
    var tip = document.getElementById("tip");
    var spans = [];
    passage.textContent = "";
    var frag = document.createDocumentFragment();
    D.text.forEach(function(ch, i){ var s = document.createElement("span"); s.textContent = ch; s.dataset.i = i; frag.appendChild(s); spans.push(s); });
    passage.appendChild(frag);
    for (var l = 0; l < D.layers; l++) { var o = document.createElement("option"); o.value = l; o.textContent = l; layerSel.appendChild(o); }
    D.kinds.forEach(function(k){ var o = document.createElement("option"); o.value = k; o.textContent = k === "h" ? "h (output)" : "c (cell)"; kindSel.appendChild(o); });
    neuronIn.max = D.hidden - 1;
    var sel = {layer: 0, kind: D.kinds[0], neuron: 0};
    function colour(v){
      v = Math.max(-1, Math.min(1, v));
      if (v >= 0) { var g = Math.round(255 - 200 * v), b = Math.round(255 - 195 * v); return "rgb(255," + g + "," + b + ")"; }
      var r = Math.round(255 + 195 * v), g2 = Math.round(255 + 145 * v); return "rgb(" + r + "," + g2 + ",255)";
    }
    function values(){ return D.activations[sel.layer + sel.kind][sel.neuron]; }
    function scale(){ return D.scales[sel.layer + sel.kind][sel.neuron]; }
    var buttons = [];
    function render(){
      var v = values();
      for (var i = 0; i < spans.length; i++) spans[i].style.backgroundColor = colour(v[i] / D.quantum);
      layerSel.value = sel.layer; kindSel.value = sel.kind; neuronIn.value = sel.neuron;
      current.textContent = "layer " + sel.layer + " " + sel.kind + " " + sel.neuron + (sel.kind === "c" ? " (max |c| " + scale().toFixed(2) + ")" : "");
      buttons.forEach(function(b){ var n = b.neuronRef; b.classList.toggle("selected", n.layer === sel.layer && n.kind === sel.kind && n.neuron === sel.neuron); });
      var hash = "#layer=" + sel.layer + "&kind=" + sel.kind + "&neuron=" + sel.neuron;
      if (location.hash !== hash) history.replaceState(null, "", hash);
    }
    function select(layer, kind, neuron){
      layer = Math.max(0, Math.min(D.layers - 1, layer | 0));
      if (D.kinds.indexOf(kind) < 0) kind = D.kinds[0];
      neuron = ((neuron | 0) % D.hidden + D.hidden) % D.hidden;
      sel = {layer: layer, kind: kind, neuron: neuron}; render();
    }
    function fromHash(){
      var p = {}; location.hash.replace(/^#/, "").split("&").forEach(function(kv){ var a = kv.split("="); if (a.length === 2) p[a[0]] = decodeURIComponent(a[1]); });
      if ("layer" in p || "kind" in p || "neuron" in p) { select(parseInt(p.layer || "0", 10), p.kind || D.kinds[0], parseInt(p.neuron || "0", 10)); return true; }
      return false;
    }
    var props = document.getElementById("properties");
    D.properties.forEach(function(p){
      var h = document.createElement("h3"); h.textContent = p.name; props.appendChild(h);
      if (p.neurons.length === 0) { var e = document.createElement("div"); e.className = "none"; e.textContent = "constant in this passage"; props.appendChild(e); }
      p.neurons.forEach(function(n){
        var b = document.createElement("button"); b.type = "button"; b.neuronRef = n;
        b.textContent = "layer " + n.layer + " " + n.kind + " " + String(n.neuron).padStart(3) + "   r = " + (n.r >= 0 ? "+" : "") + n.r.toFixed(3);
        b.addEventListener("click", function(){ select(n.layer, n.kind, n.neuron); });
        props.appendChild(b); buttons.push(b);
      });
    });
    layerSel.addEventListener("change", function(){ select(+layerSel.value, sel.kind, sel.neuron); });
    kindSel.addEventListener("change", function(){ select(sel.layer, kindSel.value, sel.neuron); });
    neuronIn.addEventListener("change", function(){ select(sel.layer, sel.kind, parseInt(neuronIn.value, 10) || 0); });
    document.getElementById("prev").addEventListener("click", function(){ select(sel.layer, sel.kind, sel.neuron - 1); });
    document.getElementById("next").addEventListener("click", function(){ select(sel.layer, sel.kind, sel.neuron + 1); });
    window.addEventListener("hashchange", fromHash);
    function shown(ch){ return ch === "\\n" ? "\\u21b5" : ch === " " ? "\\u2423" : ch === "\\t" ? "\\u21e5" : ch; }
    passage.addEventListener("mousemove", function(ev){
      var t = ev.target; if (!t.dataset || t.dataset.i === undefined) { tip.hidden = true; return; }
      var i = +t.dataset.i, v = values()[i] / D.quantum * scale();
      tip.textContent = "";
      var head = document.createElement("div"); head.textContent = "after '" + shown(D.text[i]) + "' (#" + i + "): value " + v.toFixed(3); tip.appendChild(head);
      var table = document.createElement("table");
      D.guesses[i].forEach(function(g){
        var tr = table.insertRow(), a = tr.insertCell(), b = tr.insertCell(), c = tr.insertCell();
        a.textContent = "'" + shown(g[0]) + "'"; b.textContent = (100 * g[1]).toFixed(1) + "%";
        var bar = document.createElement("span"); bar.className = "bar"; bar.style.width = Math.round(80 * g[1]) + "px"; c.appendChild(bar);
      });
      tip.appendChild(table); tip.hidden = false;
      var x = ev.clientX + 14, y = ev.clientY + 14;
      if (x + tip.offsetWidth > innerWidth) x = ev.clientX - tip.offsetWidth - 8;
      if (y + tip.offsetHeight > innerHeight) y = ev.clientY - tip.offsetHeight - 8;
      tip.style.left = x + "px"; tip.style.top = y + "px";
    });
    passage.addEventListener("mouseleave", function(){ tip.hidden = true; });
    if (!fromHash()) {
      var first = D.properties.filter(function(p){ return p.neurons.length > 0; })[0];
      if (first) select(first.neurons[0].layer, first.neurons[0].kind, first.neurons[0].neuron); else render();
    }
    })();
    """
}



/// `text` as a JSON string literal that can sit inside the page's `<script>` element.
private func scriptString(_ text: String) -> String { jsonStringLiteral(text, safeInHTMLScript: true) }

/// A number with at most 4 significant decimals, as JSON.
private func shortNumber(_ value: Float) -> String {
  guard value.isFinite else { return "0" }
  let rounded = (Double(value) * 10000).rounded() / 10000
  return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
}
