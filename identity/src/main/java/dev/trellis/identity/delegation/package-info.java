/** Node mode's one exception to "a token gets its own identity": a node proxy may ask for the identities of pods scheduled on its own node, and no others. */
package dev.trellis.identity.delegation;
