/** Load balancing: power of two choices over peak-EWMA latency with pending weighting, and failure accrual. */
package dev.trellis.proxy.balance;
