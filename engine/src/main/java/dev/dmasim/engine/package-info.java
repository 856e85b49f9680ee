/** The driver-facing DMA API: {@code DmaEngine}, {@code Device} and their value types. */
package dev.dmasim.engine;
