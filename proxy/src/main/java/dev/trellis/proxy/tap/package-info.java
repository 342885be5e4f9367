/** Tap: live request events from this proxy, served over mTLS to the viz identity only. */
package dev.trellis.proxy.tap;
