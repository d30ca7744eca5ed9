// Starts Swagger UI on /docs with this server's own OpenAPI document. Nothing is fetched from
// elsewhere: the bundle is served by this server, and "Try it out" calls this server.
(function () {
  "use strict";
  if (!window.SwaggerUIBundle) return;
  window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: false,
    validatorUrl: "none",
    tryItOutEnabled: false,
    defaultModelsExpandDepth: 0,
  });
})();
