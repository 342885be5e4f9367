/** Test fixtures shared by the modules' tests: a throwaway mesh PKI on disk, and free ports. */
package dev.trellis.testing;
