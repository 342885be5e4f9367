/** Network addresses as the mesh's configuration names them. */
package dev.trellis.core.net;
