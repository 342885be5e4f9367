/** The {@code trellis} command: thin picocli wiring, one class per subcommand, over the component modules. */
package dev.trellis.cli;
