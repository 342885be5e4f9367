// The login page: spends a one-time code (from the link's ?code=, or typed in) for a session cookie.
// The code is sent in a POST from this page (the server checks its Origin), never kept in history.
"use strict";
(function () {
  const message = document.getElementById("login-message");
  const form = document.getElementById("login-form");

  async function login(code) {
    message.textContent = "Logging in…";
    let response;
    try {
      response = await fetch("/login", {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({code: code}),
        credentials: "same-origin",
      });
    } catch (e) {
      message.textContent = "The dashboard does not answer: " + e.message;
      return;
    }
    if (response.ok) {
      location.replace("/");
      return;
    }
    let text = "Login failed (" + response.status + ")";
    try {
      text = (await response.json()).error || text;
    } catch (e) {
      // not JSON: keep the status
    }
    message.textContent = text;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    login(document.getElementById("code").value.trim());
  });

  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  if (code) {
    history.replaceState(null, "", "/login");
    login(code);
  }
})();
