"""`snakemake --report` on a machine without network access.

Snakemake 7 downloads the report's JavaScript and CSS (React, Vega,
Tailwind) and their licences from CDNs while it writes the report. This runs
Snakemake with those downloads answered from Debian's packages where they
are installed (node-react, node-react-dom, libjs-vega) and by an empty
placeholder otherwise: the report is written, its results are all there,
and the parts whose library is missing (styling without Tailwind, the
Vega-Lite charts) are plain.

  python3 pipelines/scripts/report_offline.py -s pipelines/Snakefile \
      --configfile pipelines/config.yaml --report report.html
"""
import os
import sys

import requests

LOCAL = {
    "react.production.min.js": "/usr/share/nodejs/react/umd/react.production.min.js",
    "react-dom.production.min.js": "/usr/share/nodejs/react-dom/umd/react-dom.production.min.js",
    "vega.js": "/usr/share/javascript/vega/vega.min.js",
}


class Reply:
    status_code = requests.codes.ok

    def __init__(self, text):
        self.text = text


# Without Vega-Lite the report's charts (rule graph, runtimes) cannot be
# drawn: a stand-in for vegaEmbed says so where each chart would be.
VEGA_EMBED_STANDIN = """
window.vegaEmbed = function (el, spec) {
  var node = typeof el === "string" ? document.querySelector(el) : el;
  if (node) node.textContent = "(chart not drawn: Vega-Lite was not available offline)";
  var view = {addEventListener: function () {}, addSignalListener: function () {},
              signal: function () { return view; }, runAsync: function () { return Promise.resolve(view); }};
  return Promise.resolve({view: view, spec: spec});
};
"""


def local_get(url, *args, **kwargs):
    name = url.rsplit("/", 1)[-1].split("?")[0]
    path = LOCAL.get(name)
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return Reply(f.read())
    if name == "vega-embed.js":
        return Reply(VEGA_EMBED_STANDIN)
    return Reply(f"/* {url}: not available offline */")


requests.get = local_get

from snakemake import main  # noqa: E402  (after the patch, which it must see)

sys.exit(main())
