// Swagger UI over this server's OpenAPI document (templates/docs.html). A file, not the inline
// script of FastAPI's default page, so that the Content-Security-Policy needs no 'unsafe-inline';
// no validator badge, which would ask a server on the internet to check the document.
(function () {
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: node.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
