/** Gateway API routes attached to Services (GAMMA): HTTPRoute and GRPCRoute read and validated for the mesh. */
package dev.trellis.cluster.routes;
