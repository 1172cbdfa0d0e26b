"""System description JSON (``<division>/<org>/systems/<system_desc_id>.json``), kept as written.

Every era asks for a different set of keys (16 in v0.5, 33 in v1.0, 35 today, plus power and
network-division fields), submitters mix strings and numbers freely, and real files carry typos
(``sumitter``, ``number of nodes``) and private additions (``nodes`` lists, ``host_processor_url``).
So this parser validates nothing about content: it keeps every key with the line it was written
on, types known fields loosely, and leaves the era's required-field list to the rule pack. What it
does report are structural problems (not JSON, not an object, BOM, trailing data, duplicate keys).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from checker.parse.base import ParseResult, ProblemSink, Sourced, as_path, display_path
from checker.parse.json_lines import JsonValue, SourcedJsonObject, load_json_with_lines, require_object

KIND = "system_json"

#: ``Sourced[JsonValue] | None``: present (with its line) or absent.
Opt = Sourced[JsonValue] | None


class SystemDescription(SourcedJsonObject):
    """The keys any era of the rules or checkers names (§12 of the rules reference), all optional.

    Attribute names are the JSON names, except ``accelerator_on-chip_memories`` whose ``-`` is
    spelled ``_`` (the JSON name is its alias, and :meth:`get` takes JSON names).
    """

    # identity and category
    division: Opt = None
    submitter: Opt = None
    status: Opt = None
    system_type: Opt = None
    system_type_detail: Opt = None
    system_name: Opt = None
    number_of_nodes: Opt = None
    # host
    host_processor_model_name: Opt = None
    host_processors_per_node: Opt = None
    host_processor_core_count: Opt = None
    host_processor_vcpu_count: Opt = None
    host_processor_frequency: Opt = None
    host_processor_caches: Opt = None
    host_processor_interconnect: Opt = None
    host_memory_capacity: Opt = None
    host_memory_configuration: Opt = None
    host_storage_capacity: Opt = None
    host_storage_type: Opt = None
    host_networking: Opt = None
    host_networking_topology: Opt = None
    host_network_card_count: Opt = None
    # accelerators
    accelerators_per_node: Opt = None
    accelerator_model_name: Opt = None
    accelerator_memory_capacity: Opt = None
    accelerator_frequency: Opt = None
    accelerator_on_chip_memories: Opt = Field(default=None, alias="accelerator_on-chip_memories")
    accelerator_interconnect_topology: Opt = None
    accelerator_host_interconnect: Opt = None
    accelerator_interconnect: Opt = None
    accelerator_memory_configuration: Opt = None
    # software and notes
    cooling: Opt = None
    hw_notes: Opt = None
    sw_notes: Opt = None
    framework: Opt = None
    operating_system: Opt = None
    other_software_stack: Opt = None
    # power submissions (known to the v1.0+ checkers)
    power_management: Opt = None
    filesystem: Opt = None
    boot_firmware_version: Opt = None
    management_firmware_version: Opt = None
    other_hardware: Opt = None
    number_of_type_nics_installed: Opt = None
    nics_enabled_firmware: Opt = None
    nics_enabled_os: Opt = None
    nics_enabled_connected: Opt = None
    network_speed_mbit: Opt = None
    power_supply_quantity_and_rating_watts: Opt = None
    power_supply_details: Opt = None
    disk_drives: Opt = None
    disk_controllers: Opt = None
    system_power_only: Opt = None
    system_power_capacity: Opt = None
    # network division
    is_network: Opt = None
    network_type: Opt = None
    network_media: Opt = None
    network_rate: Opt = None
    nic_loadgen: Opt = None
    number_nic_loadgen: Opt = None
    net_software_stack_loadgen: Opt = None
    network_protocol: Opt = None
    number_connections: Opt = None
    nic_sut: Opt = None
    number_nic_sut: Opt = None
    net_software_stack_sut: Opt = None
    network_topology: Opt = None


def parse_system_json(path: Path | str, root: Path | str | None = None) -> ParseResult[SystemDescription]:
    """Parse one system description JSON; never raises.

    ``model`` is None only when no JSON object could be read (missing, empty, binary, invalid JSON,
    a top-level list or string); otherwise it holds every key, including misspelled ones in
    ``extra``, each with the line of its key.
    """
    path = as_path(path)
    shown = display_path(path, as_path(root) if root is not None else None)
    sink = ProblemSink(shown)
    model: SystemDescription | None = None
    doc = load_json_with_lines(path, sink)
    if doc is not None:
        obj = require_object(doc, sink, "a system description")
        if obj is not None:
            model = SystemDescription.from_document(obj, doc)
    return ParseResult[SystemDescription](kind=KIND, path=shown, model=model, problems=sink.finish())
