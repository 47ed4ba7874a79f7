// Starts Swagger UI on the runtime's OpenAPI document (served locally, no CDN).
window.ui = SwaggerUIBundle({
  url: "/_local/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  defaultModelsExpandDepth: 0,
});
