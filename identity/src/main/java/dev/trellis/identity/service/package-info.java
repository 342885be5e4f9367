/** The gRPC Certify service: authentication, rate limits, CSR validation, signing, audit and metrics. */
package dev.trellis.identity.service;
