"""What leaves the app as a document: PDF summaries (rendered in a forkserver's children),
the clinician's wording for them, and FHIR R4 resources (exports, the Questionnaire, and
reading a QuestionnaireResponse back for ``$assess``)."""
