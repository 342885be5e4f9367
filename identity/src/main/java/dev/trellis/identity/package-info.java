/** The identity service, the mesh's certificate authority: configuration and wiring of its parts. */
package dev.trellis.identity;
