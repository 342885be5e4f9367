/** JMH benchmarks of the CA's hot path; results and commands are in docs/benchmarks.md. */
package dev.trellis.benchmarks;
