/** Token-bucket rate limits for the identity service (threat-model finding 1). */
package dev.trellis.identity.ratelimit;
