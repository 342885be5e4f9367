/** The dashboard's web server: login and sessions, the request guards (Host, Origin, CSRF, limits), the JSON API, live tap, the pages. */
package dev.trellis.viz.web;
