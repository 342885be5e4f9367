/** Text for people: untrusted input (names, tokens, headers) and failures rendered into log lines and error messages. */
package dev.trellis.core.text;
