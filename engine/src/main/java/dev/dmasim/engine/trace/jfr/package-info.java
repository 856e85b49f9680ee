/**
 * dmasim's JDK Flight Recorder events. All are disabled by default and cost one check of the event's enabled state
 * per call (no allocation) until a recording enables them:
 *
 * <table>
 *   <caption>Events</caption>
 *   <tr><th>name</th><th>when</th><th>fields</th></tr>
 *   <tr><td>{@code dmasim.Map}</td><td>{@code Device.mapPhys} (and wrappers), {@code mapSg}; duration = the call</td>
 *       <td>device, phys, dma, size, direction, nents</td></tr>
 *   <tr><td>{@code dmasim.Unmap}</td><td>{@code unmapPhys}, {@code unmapSg}; duration = the call</td>
 *       <td>device, phys, dma, size, direction, nents</td></tr>
 *   <tr><td>{@code dmasim.IommuFault}</td><td>the IOMMU refused a device access (instant)</td>
 *       <td>device, phys (-1), dma, size, direction (READ/WRITE), reason, domain</td></tr>
 * </table>
 *
 * Enable with {@code java -XX:StartFlightRecording:+dmasim.Map#enabled=true,...} (JDK 17+ syntax) or
 * {@code recording.enable("dmasim.Map")}.
 */
package dev.dmasim.engine.trace.jfr;
