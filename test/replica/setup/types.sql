-- Event types written on the primary for the replica checks (checks/types.sql):
-- a schema, events stored at versions 1 and 2, and a two-step upcaster chain.
SELECT chronicle.define_event_type('RepShipped', '{"type": "object", "required": ["parcel"],
  "properties": {"parcel": {"type": "string", "pattern": "^P[0-9]+$"}, "weight": {"type": "number", "minimum": 0}}}', 3);
SELECT chronicle.append_batch('shipment-1', '[
  {"type": "RepShipped", "type_version": 1, "data": {"box": "P1", "kg": 2}},
  {"type": "RepShipped", "type_version": 2, "data": {"parcel": "P2", "kg": 3}},
  {"type": "RepShipped", "type_version": 3, "data": {"parcel": "P3", "weight": 4}},
  {"type": "RepNote", "data": {"text": "no upcaster"}}]');
SELECT chronicle.define_upcaster('RepShipped', 1, '{"rename": {"box": "parcel"}}');
SELECT chronicle.define_upcaster('RepShipped', 2, '{"rename": {"kg": "weight"}, "set": {"unit": "kg"}}');
