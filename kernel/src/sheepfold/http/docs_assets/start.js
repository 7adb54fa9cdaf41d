// Starts Swagger UI on the spec named by the page (no inline script: a Content-Security-Policy may forbid them).
// validatorUrl null: Swagger UI's validator badge (its standalone layout's, not used here) would send the
// spec's address to validator.swagger.io, a request to another host.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout"
  });
})();
