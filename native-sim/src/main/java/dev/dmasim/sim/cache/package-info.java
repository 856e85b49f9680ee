/** The CPU cache model seen by DMA maintenance operations. */
package dev.dmasim.sim.cache;
