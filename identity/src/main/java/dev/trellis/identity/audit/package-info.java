/** The identity service's audit trail: one JSON line per decision. */
package dev.trellis.identity.audit;
