/** {@code trellis inject} and {@code uninject}: manifests from files, directories, stdin or https, every pod template annotated, injected or restored. */
package dev.trellis.injector.manifests;
