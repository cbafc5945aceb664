// Starts Swagger UI on the page served at GET /docs (hng/web/docs_page.py). A file of its own rather than an
// inline script, so that the page's Content-Security-Policy can forbid inline scripts altogether.
(function () {
  "use strict";

  var root = document.getElementById("swagger-ui");
  // The API's root as the browser sees it, stage prefix included: /dev/docs -> https://host/dev/.
  var apiRoot = new URL(".", window.location.href);

  function showError(message) {
    var paragraph = document.createElement("p");
    paragraph.className = "docs-error";
    paragraph.textContent = message;
    root.replaceChildren(paragraph);
  }

  function start(spec) {
    // The document names "/" as its server, which on API Gateway is the domain without the stage: "Try it
    // out" must call the API that served this page, wherever it is mounted.
    spec.servers = [{ url: apiRoot.href.replace(/\/$/, ""), description: "The API that served this page" }];
    // The key is not in the document because whether the API wants one is a deployment choice
    // (RequireApiKey); declaring it optional gives "Authorize" a field for it. It is kept in memory only.
    spec.components = spec.components || {};
    spec.components.securitySchemes = Object.assign({}, spec.components.securitySchemes, {
      apiKey: {
        type: "apiKey",
        in: "header",
        name: "x-api-key",
        description: "Needed only when the stack was deployed with RequireApiKey=true",
      },
    });
    spec.security = [{}, { apiKey: [] }];
    window.ui = SwaggerUIBundle({
      domNode: root,
      spec: spec,
      validatorUrl: null, // the default sends the document to validator.swagger.io
      deepLinking: true,
      docExpansion: "list",
      defaultModelsExpandDepth: 1,
      displayRequestDuration: true,
      persistAuthorization: false,
    });
  }

  if (typeof window.SwaggerUIBundle !== "function") {
    showError("Swagger UI did not load; the API description is at " + new URL(root.dataset.openapiUrl, apiRoot));
    return;
  }
  fetch(new URL(root.dataset.openapiUrl, apiRoot), { headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) {
        throw new Error("GET " + response.url + " answered " + response.status);
      }
      return response.json();
    })
    .then(start)
    .catch(function (error) {
      showError("Could not load the API description: " + error.message);
    });
})();
