/** {@code trellis injector}: the mutating admission webhook that meshes pods, over HTTPS with a certificate it reloads. */
package dev.trellis.injector.webhook;
