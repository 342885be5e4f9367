/** Rendering of untrusted input (names, tokens, headers) into log lines and error messages. */
package dev.trellis.core.text;
