/** The control plane as Kubernetes objects, built with fabric8's typed builders: {@code trellis install} and {@code uninstall}. */
package dev.trellis.install;
