/*! ragway widget loader — embed with
 *  <script src="https://<gateway>/widget/v1/loader.js" data-widget-key="pk_…" async></script>
 *  Optional command queue before it loads:
 *  <script>window.Ragway=window.Ragway||function(){(Ragway.q=Ragway.q||[]).push(arguments)};</script>
 */
(function () {
  'use strict';
  var w = window;
  var d = document;
  var script = d.currentScript || d.querySelector('script[data-widget-key]');
  if (!script || (w.Ragway && w.Ragway.loaded)) return;
  var key = script.getAttribute('data-widget-key');
  if (!key) {
    if (w.console) w.console.error('ragway: the loader script needs a data-widget-key attribute');
    return;
  }
  var previous = w.Ragway;
  var queue = (previous && previous.q) || [];
  // Commands queue up until the widget has loaded; it then replays them in order.
  var api = function () {
    queue.push(arguments);
  };
  api.q = queue;
  api.loaded = true;
  api.config = {
    base: new URL('.', script.src).href,
    key: key,
    data: Object.assign({}, script.dataset)
  };
  w.Ragway = api;
  var bundle = d.createElement('script');
  bundle.src = api.config.base + '__RAGWAY_BUNDLE__';
  bundle.async = true;
  (d.head || d.documentElement).appendChild(bundle);
})();
