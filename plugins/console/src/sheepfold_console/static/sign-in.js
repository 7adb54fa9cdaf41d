"use strict";
// Sends the admin token once; the server answers with the console's HttpOnly cookie, then the console opens.
(() => {
  const form = document.getElementById("sign-in");
  const message = document.getElementById("message");

  function destination() {
    // Only a path of the admin surface of this same site: never an open redirect.
    const next = new URLSearchParams(location.search).get("next") || "";
    return /^\/-\/[^/\\]/.test(next) || next === "/-/console" ? next : "/-/console";
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "Signing in…";
    const token = document.getElementById("token").value;
    try {
      const response = await fetch("/console/sign-in", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token }),
        credentials: "same-origin",
      });
      if (response.status === 204) {
        location.assign(destination());
        return;
      }
      const problem = await response.json().catch(() => ({}));
      message.textContent = problem.detail || `Refused (${response.status}).`;
    } catch (error) {
      message.textContent = "The server did not answer.";
    }
  });
})();
