// Starts Swagger UI on the app's own OpenAPI document (a file, since the CSP forbids inline scripts).
"use strict";
window.ui = window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  tryItOutEnabled: false,
  validatorUrl: null, // never send the document to swagger.io's validator
});
