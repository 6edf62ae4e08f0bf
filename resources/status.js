// Shows the shell's message (passed as ?message=...) as text, never as HTML.
/* global document, location */
"use strict";
const message = new URLSearchParams(location.search).get("message");
if (message) document.getElementById("message").textContent = message;
