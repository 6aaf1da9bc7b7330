"""The code systems and shares of the simulated FHIR world: the simulated period (`HEALTH_START` ..
`HEALTH_END`, in days since the epoch), the ICD-10 and LOINC codes a record may carry, Encounter
classes and Condition clinical statuses, the FHIR R4 status value sets (arrays hold indices into
these tuples) and the shares they are drawn with, and the share of planned follow-up Encounters.
spm.simulator.records renders them; spm.simulator.expected computes the oracle from them."""

from __future__ import annotations

from datetime import date

from spm.simulator.config import HEALTH_FIRST_YEAR, LAST_YEAR
from spm.simulator.determinism import days

DAY = 86_400
HEALTH_START = days(date(HEALTH_FIRST_YEAR, 1, 1))
HEALTH_END = days(date(LAST_YEAR, 12, 31))  # last day with clinical records

ICD10 = {
    "Z34.0": "Supervision of normal first pregnancy",
    "Z34.8": "Supervision of other normal pregnancy",
    "Z34.9": "Supervision of normal pregnancy, unspecified",
    "Z35.9": "Supervision of high-risk pregnancy, unspecified",
    "Z36": "Antenatal screening",
    "O80": "Single spontaneous delivery",
    "O81": "Single delivery by forceps and vacuum extractor",
    "O82": "Single delivery by caesarean section",
    "O83": "Other assisted single delivery",
    "O84": "Multiple delivery",
    "Z00.0": "General medical examination",
    "Z00.1": "Routine child health examination",
    "Z00.2": "Examination for period of rapid growth in childhood",
    "Z00.3": "Examination for adolescent development state",
    "Z01.0": "Examination of eyes and vision",
    "I10": "Essential (primary) hypertension",
    "I11.9": "Hypertensive heart disease without (congestive) heart failure",
    "I12.9": "Hypertensive renal disease without renal failure",
    "I13.9": "Hypertensive heart and renal disease, unspecified",
    "I15.9": "Secondary hypertension, unspecified",
    "R03.0": "Elevated blood-pressure reading, without diagnosis of hypertension",
    "E10.9": "Insulin-dependent diabetes mellitus without complications",
    "E11.9": "Non-insulin-dependent diabetes mellitus without complications",
    "E12.9": "Malnutrition-related diabetes mellitus without complications",
    "E13.9": "Other specified diabetes mellitus without complications",
    "E14.9": "Unspecified diabetes mellitus without complications",
    "E16.2": "Hypoglycaemia, unspecified",
    "F20.0": "Paranoid schizophrenia",
    "F20.9": "Schizophrenia, unspecified",
    "F23.9": "Acute and transient psychotic disorder, unspecified",
    "F25.9": "Schizoaffective disorder, unspecified",
    "F29": "Unspecified nonorganic psychosis",
    "F32.9": "Depressive episode, unspecified",
    "J06.9": "Acute upper respiratory infection, unspecified",
    "K30": "Dyspepsia",
    "M79.1": "Myalgia",
    "R51": "Headache",
}
ICD_CODES = tuple(ICD10)
ICD = {code: i for i, code in enumerate(ICD_CODES)}

# LOINC code -> (display, unit, category). TB/HIV test codes outside this table get a generic display.
LOINC = {
    "29463-7": ("Body weight", "kg", "vital-signs"),
    "8302-2": ("Body height", "cm", "vital-signs"),
    "85354-9": ("Blood pressure panel with all children optional", "mm[Hg]", "vital-signs"),
    "39156-5": ("Body mass index (BMI) [Ratio]", "kg/m2", "vital-signs"),
    "2339-0": ("Glucose [Mass/volume] in Blood", "mg/dL", "laboratory"),
    "15074-8": ("Glucose [Moles/volume] in Blood", "mmol/L", "laboratory"),
    "2093-3": ("Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", "laboratory"),
    "4548-4": ("Hemoglobin A1c/Hemoglobin.total in Blood", "%", "laboratory"),
    "36643-5": ("XR Chest 2 Views", None, "imaging"),
    "11545-1": ("Microscopic observation [Identifier] in Sputum by Acid fast stain", None, "laboratory"),
    "38379-4": ("Mycobacterium tuberculosis complex DNA [Presence] in Specimen by NAA", None, "laboratory"),
    "75622-1": ("HIV 1 and 2 tests - Meaningful Use set", None, "laboratory"),
    "7917-8": ("HIV 1 Ab [Presence] in Serum", None, "laboratory"),
    "56888-1": ("HIV 1+2 Ab+HIV1 p24 Ag [Presence] in Serum or Plasma by Immunoassay", None, "laboratory"),
}
CLINICAL_STATUS = ("active", "resolved", "inactive")
ENCOUNTER_CLASS = ("AMB", "IMP")
# FHIR R4 status codes, in the order of their value sets; arrays hold indices into these tuples.
ENCOUNTER_STATUS = ("planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
                    "entered-in-error", "unknown")
OBSERVATION_STATUS = ("registered", "preliminary", "final", "amended", "corrected", "cancelled",
                      "entered-in-error", "unknown")
# Condition verificationStatus; -1 in the array: the element is absent.
VERIFICATION_STATUS = ("unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error")
VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
# Shares of the first versions' statuses.
ENCOUNTER_STATUS_SHARES = {"finished": 0.93, "in-progress": 0.01, "arrived": 0.005, "triaged": 0.005,
                           "onleave": 0.005, "cancelled": 0.025, "entered-in-error": 0.015, "unknown": 0.005}
OBSERVATION_STATUS_SHARES = {"final": 0.94, "amended": 0.015, "corrected": 0.01, "preliminary": 0.015,
                             "registered": 0.005, "cancelled": 0.008, "entered-in-error": 0.005, "unknown": 0.002}
VERIFICATION_SHARES = {None: 0.20, "confirmed": 0.70, "provisional": 0.03, "differential": 0.02,
                       "unconfirmed": 0.02, "refuted": 0.02, "entered-in-error": 0.01}
V2_WITHDRAWN_SHARE = 0.10  # second versions saying entered-in-error (Encounter, Observation) or refuted
PLANNED_SHARE = 0.01  # visits that book a follow-up appointment (a planned Encounter)
# Result of a TB/HIV test observation: value 0 or 1.
TEST_RESULT = (("LA6577-6", "Negative"), ("LA6576-8", "Positive"))
