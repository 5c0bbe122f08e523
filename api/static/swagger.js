/* Starts Swagger UI on /docs from the installed bundle (no inline script: the page's CSP
   allows scripts from this origin only). The OpenAPI document's URL is on the element. */
(function () {
  "use strict";
  var element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: element.getAttribute("data-openapi"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    showExtensions: true,
    showCommonExtensions: true,
    // Keys typed into "Authorize" stay in this tab's memory, never in localStorage.
    persistAuthorization: false,
    // Leave the document alone: no request to a validator on the internet.
    validatorUrl: null
  });
})();
